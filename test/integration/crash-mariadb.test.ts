/**
 * Crash test, MariaDB → Debezium → Kafka → `shadowdb run` → MariaDB: ≥ 100k changes while the
 * real CLI is killed with SIGKILL at random moments and restarted; no change is lost or applied
 * twice (see test/support/crash.ts).
 */
import { after, test } from "node:test";
import { type CrashEngine, cleanUp, crashTest, newCrashRun } from "../support/crash.ts";
import { mariadbCrashEngine } from "../support/crash-engines.ts";
import { services } from "../support/env.ts";

const run = newCrashRun();
let engine: CrashEngine | undefined;

after(async () => {
  if (engine) await cleanUp(engine, run);
});

test("kill -9 during ≥ 100k changes, several times: nothing lost, nothing applied twice", {
  timeout: 170_000,
}, async () => {
  engine = mariadbCrashEngine(await services());
  await crashTest(engine, run);
});
