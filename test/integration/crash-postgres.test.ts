/**
 * Crash test, PostgreSQL → Debezium → Kafka → `shadowdb run` → PostgreSQL: ≥ 100k changes while
 * the real CLI is killed with SIGKILL at random moments and restarted; no change is lost or
 * applied twice (see test/support/crash.ts). Once per table, once in source-transaction mode.
 */
import { after, test } from "node:test";
import { type CrashEngine, cleanUp, crashTest, newCrashRun } from "../support/crash.ts";
import { connectPostgres } from "../support/engines.ts";
import { services } from "../support/env.ts";
import type { Services } from "../support/services.ts";

function postgres(env: Services): CrashEngine {
  return {
    name: "postgres",
    dialect: "postgres",
    brokers: env.SHADOWDB_KAFKA_BROKERS,
    shadowUrl: env.SHADOWDB_PG_SHADOW_URL,
    topic: (table) => `${env.SHADOWDB_PG_TOPIC_PREFIX}.public.${table}`,
    target: (table) => `public.${table}`,
    deadLetterTable: "public.shadowdb_dead_letters",
    connectProd: () => connectPostgres(env.SHADOWDB_PG_PROD_URL),
    connectShadow: () => connectPostgres(env.SHADOWDB_PG_SHADOW_URL),
    param: (i) => `$${i}`,
    updateSql: (table, tag, from, to) =>
      `UPDATE ${table} SET version = version + 1, payload = '${tag}-' || md5(random()::text) WHERE id BETWEEN ${from} AND ${to}`,
    selectSql: (table) =>
      `SELECT id::text AS id, version::text AS version, payload FROM ${table} ORDER BY id`,
  };
}

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
  engine = postgres(await services());
  await crashTest(engine, run);
});

test("the same in source-transaction mode", { timeout: 170_000 }, async () => {
  const env = await services();
  engine = postgres(env);
  sourceRun.transactionTopic = `${env.SHADOWDB_PG_TOPIC_PREFIX}.transaction`;
  await crashTest(engine, sourceRun);
});
