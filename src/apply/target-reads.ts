/** Reads of the target that must succeed before work goes on: waited out with backoff while it is away. */
import type { Health } from "../health/health.ts";
import { targetProblem } from "../health/outage.ts";
import type { Metrics } from "../metrics/metrics.ts";
import type { ClassifiedError } from "../target/dialect.ts";
import { backoffDelay, sleep } from "./backoff.ts";

export interface ReadRetry {
  classify: (error: unknown) => ClassifiedError;
  health: Health;
  metrics?: Metrics;
}

/** `work` (a target read) retried with backoff while the target is away, until `stop`. */
export async function retryingRead<T>(
  retry: ReadRetry,
  work: () => Promise<T>,
  stop: AbortSignal,
  heartbeat?: () => Promise<void>,
): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      const result = await work();
      retry.health.target(undefined);
      return result;
    } catch (error) {
      const reason = retry.classify(error);
      if (!reason.retriable || stop.aborted) throw error;
      retry.health.target(targetProblem(reason, error));
      retry.metrics?.retries.inc({ code: reason.code });
      await sleep(backoffDelay(attempt), stop);
      await heartbeat?.();
    }
  }
}
