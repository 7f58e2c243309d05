/**
 * How the materializer tells an outage (wait, report, try again) from a failure (stop), and how it
 * words either for /readyz.
 */
import { ShadowdbError } from "../errors.ts";
import type { ClassifiedError } from "../target/dialect.ts";

/** How long a probe waits for an answer before it reports the server as not answering. */
export const PROBE_WAIT_MS = 10_000;

/** kafkajs wraps what an eachBatch threw (and its own failures) in causes: the first error. */
export function originalCause(error: unknown): unknown {
  let current = error;
  while (current instanceof Error && current.cause !== undefined) current = current.cause;
  return current;
}

/**
 * Errors of Kafka's clients (broker away, timeouts, even refusals): wait and try again. An error
 * of our own that kafkajs wrapped on its way out of eachBatch (onError: stop) is not one.
 */
export function kafkaOutage(error: unknown): boolean {
  const cause = originalCause(error);
  return cause instanceof Error && cause.name.startsWith("KafkaJS");
}

/** A probe that got no answer in time: an outage to report and wait out, not a failure. */
export class NoAnswer extends ShadowdbError {
  constructor(message: string) {
    super("OUTAGE_NO_ANSWER", message);
    this.name = "NoAnswer";
  }
}

/** `work`, or a NoAnswer after `ms`: a hanging server must show as one, not as silence. */
export function within<T>(ms: number, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new NoAnswer(`no answer within ${ms / 1000} s`)), ms);
  });
  work.catch(() => undefined);
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

/** Why a Kafka or database operation failed, in one line for /readyz. */
export function problem(error: unknown): string {
  // /readyz has worded a probe's silence this way since NoAnswer was a bare Error: kept.
  if (error instanceof NoAnswer) return `Error: ${error.message}`;
  if (error instanceof ShadowdbError) return `${error.code}: ${error.message}`;
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

/** A target error as /readyz words it: the catalogue code the dialect gave it, then the driver's words. */
export function targetProblem(reason: ClassifiedError, error: unknown): string {
  return `${reason.code}: ${error instanceof Error ? error.message : String(error)}`;
}
