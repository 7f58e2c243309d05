/** Runs the real Materializer in-process against the real stack, for integration tests. */
import { type Config, parseConfig } from "../../src/config/index.ts";
import { createLogger } from "../../src/log.ts";
import { createMaterializer } from "../../src/run/create.ts";
import type { Materializer } from "../../src/run/materializer.ts";

export interface Running {
  materializer: Materializer;
  config: Config;
  /** Throws the materializer's fatal error, if it has died: a test should not wait out its timeout. */
  assertAlive(): void;
  stop(): Promise<void>;
}

export async function startMaterializer(yaml: string): Promise<Running> {
  const config = parseConfig(yaml, "test config", {});
  const log = createLogger(process.env.SHADOWDB_TEST_LOG ?? "warn");
  return supervise(await createMaterializer(config, log), config);
}

/** Runs `materializer` until stop(), remembering how it ended so assertAlive can tell. */
export function supervise(materializer: Materializer, config: Config): Running {
  const abort = new AbortController();
  const done = materializer.run(abort.signal);
  let failure: unknown;
  let finished = false;
  done.then(
    () => {
      finished = true;
    },
    (error: unknown) => {
      failure = error;
      finished = true;
    },
  );
  return {
    materializer,
    config,
    assertAlive() {
      if (failure !== undefined) throw failure;
      if (finished && !abort.signal.aborted) throw new Error("the materializer stopped by itself");
    },
    async stop() {
      abort.abort();
      await done;
    },
  };
}

/**
 * Polls `probe` until it returns true; fails with the last observation after `timeoutMs`, or at
 * once when `running` (if given) has died.
 */
export async function eventually(
  what: string,
  probe: () => Promise<true | string>,
  timeoutMs = 90_000,
  running?: Running,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = "";
  while (Date.now() < deadline) {
    running?.assertAlive();
    const result = await probe();
    if (result === true) return;
    last = result;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`${what} not reached in ${timeoutMs / 1000}s; last: ${last}`);
}
