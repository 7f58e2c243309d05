/**
 * Start-up against servers that may be away: the work is retried with backoff until it succeeds
 * or `signal` aborts, and /readyz says what is not answering meanwhile. Fatal errors pass.
 */
import { backoffDelay, sleep } from "../apply/backoff.ts";
import type { Logger } from "../log.ts";
import type { ClassifiedError } from "../target/dialect.ts";
import type { Health } from "./health.ts";
import { kafkaOutage, problem, targetProblem } from "./outage.ts";

export interface Answering {
  health: Health;
  log: Logger;
  classify: (error: unknown) => ClassifiedError;
}

export async function untilAnswers(
  part: "target" | "kafka",
  signal: AbortSignal,
  answering: Answering,
  work: () => Promise<unknown>,
): Promise<void> {
  const { health, log, classify } = answering;
  for (let attempt = 0; !signal.aborted; attempt++) {
    try {
      await work();
      if (part === "target") health.target(undefined);
      else health.kafka("admin", undefined);
      return;
    } catch (error) {
      const reason = part === "target" ? classify(error) : undefined;
      if (reason ? !reason.retriable : !kafkaOutage(error)) throw error;
      const text = reason ? targetProblem(reason, error) : problem(error);
      if (part === "target") health.target(text);
      else health.kafka("admin", text);
      const delay = Math.round(backoffDelay(attempt, 1000));
      log.warn({ err: error, delay }, `${part} is not answering; trying again`);
      await sleep(delay, signal);
    }
  }
}
