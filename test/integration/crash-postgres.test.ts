/**
 * Crash test, PostgreSQL → Debezium → Kafka → `shadowdb run` → PostgreSQL: ≥ 100k changes while
 * the real CLI is killed with SIGKILL at random moments and restarted; no change is lost or
 * applied twice (see test/support/crash.ts). Once per table, once in source-transaction mode.
 */
import { after, test } from "node:test";
import { type CrashEngine, cleanUp, crashTest, newCrashRun } from "../support/crash.ts";
import { postgresCrashEngine } from "../support/crash-engines.ts";
import { services } from "../support/env.ts";

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
  engine = postgresCrashEngine(await services());
  await crashTest(engine, run);
});

test("the same in source-transaction mode", { timeout: 170_000 }, async () => {
  const env = await services();
  engine = postgresCrashEngine(env);
  sourceRun.transactionTopic = `${env.SHADOWDB_PG_TOPIC_PREFIX}.transaction`;
  await crashTest(engine, sourceRun);
});
