/**
 * Crash test, MariaDB → Debezium → Kafka → `shadowdb run` → MariaDB: ≥ 100k changes while the
 * real CLI is killed with SIGKILL at random moments and restarted; no change is lost or applied
 * twice (see test/support/crash.ts).
 */
import { after, test } from "node:test";
import { type CrashEngine, cleanUp, crashTest, newCrashRun } from "../support/crash.ts";
import { connectMariadb } from "../support/engines.ts";
import { services } from "../support/env.ts";
import type { Services } from "../support/services.ts";

function mariadb(env: Services): CrashEngine {
  return {
    name: "mariadb",
    dialect: "mysql",
    brokers: env.SHADOWDB_KAFKA_BROKERS,
    shadowUrl: env.SHADOWDB_MY_SHADOW_URL,
    topic: (table) => `${env.SHADOWDB_MY_TOPIC_PREFIX}.prod.${table}`,
    target: (table) => `shadow.${table}`,
    deadLetterTable: "shadow.shadowdb_dead_letters",
    connectProd: () => connectMariadb(env.SHADOWDB_MY_PROD_URL),
    connectShadow: () => connectMariadb(env.SHADOWDB_MY_SHADOW_URL),
    param: () => "?",
    updateSql: (table, tag, from, to) =>
      `UPDATE ${table} SET version = version + 1, payload = CONCAT('${tag}-', MD5(RAND())) WHERE id BETWEEN ${from} AND ${to}`,
    selectSql: (table) =>
      `SELECT CAST(id AS CHAR) AS id, CAST(version AS CHAR) AS version, payload FROM ${table} ORDER BY id`,
  };
}

const run = newCrashRun();
let engine: CrashEngine | undefined;

after(async () => {
  if (engine) await cleanUp(engine, run);
});

test("kill -9 during ≥ 100k changes, several times: nothing lost, nothing applied twice", {
  timeout: 170_000,
}, async () => {
  engine = mariadb(await services());
  await crashTest(engine, run);
});
