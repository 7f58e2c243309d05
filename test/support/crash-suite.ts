/**
 * Crash test, source → Debezium → Kafka → `shadowdb run` → target, the same on every engine:
 * ≥ 100k changes while the real CLI is killed with SIGKILL at random moments and restarted; no
 * change is lost or applied twice (see crash.ts). Once per table, once in source-transaction mode.
 */
import { after, test } from "node:test";
import { type CrashEngine, cleanUp, crashTest, newCrashRun } from "./crash.ts";
import { mariadbCrashEngine, postgresCrashEngine } from "./crash-engines.ts";
import { type Engine, engines } from "./engines.ts";
import { services } from "./env.ts";
import type { Services } from "./services.ts";

const crashEngines: Record<Engine["name"], (env: Services) => CrashEngine> = {
  postgres: postgresCrashEngine,
  mariadb: mariadbCrashEngine,
};

export function crashSuite(name: Engine["name"]): void {
  const run = newCrashRun();
  const sourceRun = newCrashRun();
  let engine: CrashEngine | undefined;

  after(async () => {
    if (engine) await cleanUp(engine, run);
    if (engine) await cleanUp(engine, sourceRun);
  });

  test("kill -9 during ≥ 100k changes, several times: nothing lost, nothing applied twice", {
    timeout: 170_000,
  }, async () => {
    engine = crashEngines[name](await services());
    await crashTest(engine, run);
  });

  test("the same in source-transaction mode", { timeout: 170_000 }, async () => {
    const env = await services();
    engine = crashEngines[name](env);
    sourceRun.transactionTopic = `${engines(env).find((e) => e.name === name)!.prefix}.transaction`;
    await crashTest(engine, sourceRun);
  });
}
