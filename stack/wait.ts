import { readFile } from "node:fs/promises";

export class StackError extends Error {
  constructor(
    message: string,
    readonly logExcerpt?: string,
  ) {
    super(message);
    this.name = "StackError";
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Polls `probe` until it returns a value, or fails with the tail of the component's log:
 * a readiness failure is only actionable with the reason the component gave.
 */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  opts: { timeoutMs: number; logFile?: string; intervalMs?: number; alive?: () => boolean },
): Promise<T> {
  const deadline = Date.now() + opts.timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    if (opts.alive && !opts.alive()) break;
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      // A StackError is a verdict (e.g. a connector reported FAILED): waiting longer cannot help.
      if (error instanceof StackError) throw error;
      lastError = error;
    }
    await sleep(opts.intervalMs ?? 500);
  }
  const reason = lastError instanceof Error ? `: ${lastError.message}` : "";
  const exited = opts.alive && !opts.alive() ? " (the process exited)" : "";
  throw new StackError(
    `${what} not ready after ${opts.timeoutMs / 1000}s${exited}${reason}`,
    opts.logFile ? await logExcerpt(opts.logFile) : undefined,
  );
}

/** The last error lines of a log, or its tail when it has none. */
export async function logExcerpt(file: string, lines = 30): Promise<string> {
  const text = await readFile(file, "utf8").catch(() => "");
  const all = text.split("\n");
  const errors = all.filter((line) => /\b(ERROR|FATAL|Exception|Caused by)\b/.test(line));
  const picked = (errors.length > 0 ? errors : all).slice(-lines);
  return `--- ${file} ---\n${picked.join("\n")}`;
}
