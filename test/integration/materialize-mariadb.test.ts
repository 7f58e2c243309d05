/**
 * The materializer on the real stack, MariaDB → Debezium → Kafka → shadowdb → MariaDB: a table
 * of every type goes through insert, update, delete, primary-key change and truncate; afterwards
 * the shadow table equals the source cell by cell, as MariaDB renders it.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, test } from "node:test";
import mysql from "mysql2/promise";
import { mariadbAllTypes } from "../fixtures/alltypes.ts";
import { mariadbText } from "../fixtures/harness.ts";
import { services } from "../support/env.ts";
import { kafkaClient, waitForTopic } from "../support/kafka.ts";
import { eventually, startMaterializer } from "../support/materialize.ts";
import { uninstallOverlays } from "../support/overlay.ts";

const suffix = randomBytes(4).toString("hex");
const table = `mt_all_${suffix}`;
// Zero dates cannot cross Debezium (they arrive as null; see test/fixtures/README.md).
const upstreamLoss = /0000-00-00/;
const columns = mariadbAllTypes.columns.map((c) => ({
  ...c,
  values: c.values.filter((v) => !upstreamLoss.test(v)),
}));
const rowCount = Math.max(...columns.map((c) => c.values.length)) + 1;

let prod: mysql.Connection;
let shadow: mysql.Connection;

async function rows(conn: mysql.Connection): Promise<(string | null)[][]> {
  const list = ["id", ...columns.map((c) => c.name)].map((n) =>
    mariadbText(n, columns.find((c) => c.name === n)?.type ?? "INT"),
  );
  const [result] = await conn.query({
    sql: `SELECT ${list.join(", ")} FROM ${table} ORDER BY ${table}.id`,
    rowsAsArray: true,
  });
  return result as (string | null)[][];
}

function firstDifference(expected: (string | null)[][], actual: (string | null)[][]): true | string {
  const ids = (t: (string | null)[][]) => t.map((r) => r[0]).join(",");
  if (ids(expected) !== ids(actual)) return `rows ${ids(actual)} instead of ${ids(expected)}`;
  const names = ["id", ...columns.map((c) => c.name)];
  for (const [i, row] of expected.entries()) {
    for (const [j, cell] of row.entries()) {
      if (actual[i]![j] !== cell)
        return `row ${row[0]} ${names[j]}: ${JSON.stringify(actual[i]![j])} instead of ${JSON.stringify(cell)}`;
    }
  }
  return true;
}

before(async () => {
  const env = await services();
  prod = await mysql.createConnection({
    uri: env.SHADOWDB_MY_PROD_URL,
    dateStrings: true,
    supportBigNumbers: true,
    bigNumberStrings: true,
  });
  shadow = await mysql.createConnection({
    uri: env.SHADOWDB_MY_SHADOW_URL,
    dateStrings: true,
    supportBigNumbers: true,
    bigNumberStrings: true,
  });
  const defs = columns.map((c) => `${c.name} ${c.type} ${c.options ?? ""}`).join(", ");
  for (const c of [prod, shadow]) {
    await c.query("SET time_zone = '+00:00'");
    // The recommended path: the shadow runs the application's migrations, so both tables are alike.
    await c.query(
      `CREATE TABLE ${table} (id int PRIMARY KEY, ${defs}) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
    );
  }
});

after(async () => {
  const env = await services();
  await uninstallOverlays("mysql", env.SHADOWDB_MY_SHADOW_URL, [{ schema: "shadow", name: table }]);
  for (const c of [prod, shadow]) {
    await c?.query(`DROP TABLE IF EXISTS ${table}`);
    await c
      ?.query("DELETE FROM shadowdb_positions WHERE group_id = ?", [`test-${suffix}`])
      .catch(() => undefined);
    await c?.end();
  }
});

test("every type, every operation: the shadow table equals the source", async () => {
  const env = await services();
  await prod.query(`INSERT INTO ${table} (id) VALUES (999)`);
  await prod.query(`TRUNCATE TABLE ${table}`);
  for (let i = 1; i <= rowCount; i++) {
    const present = columns.filter((c) => c.values[i - 2] !== undefined);
    const names = ["id", ...present.map((c) => c.name)].join(", ");
    const values = [String(i), ...present.map((c) => c.values[i - 2])].join(", ");
    await prod.query(`INSERT INTO ${table} (${names}) VALUES (${values})`);
  }
  await prod.query(`UPDATE ${table} SET c_text = 'updated' WHERE id = 2`);
  await prod.query(`UPDATE ${table} SET id = 103 WHERE id = 3`);
  await prod.query(`DELETE FROM ${table} WHERE id = 4`);

  const topic = `${env.SHADOWDB_MY_TOPIC_PREFIX}.prod.${table}`;
  await waitForTopic(kafkaClient(env.SHADOWDB_KAFKA_BROKERS), topic);
  const running = await startMaterializer(`
kafka: { brokers: "${env.SHADOWDB_KAFKA_BROKERS}", groupId: "test-${suffix}" }
target: { dialect: mysql, url: "${env.SHADOWDB_MY_SHADOW_URL}" }
tables: [ { topic: "${topic}", table: "shadow.${table}" } ]
deadLetter: { table: "shadow.shadowdb_dead_letters" }
http: { port: 0 }
`);
  try {
    const expected = await rows(prod);
    await eventually(
      "shadow equals prod",
      async () => firstDifference(expected, await rows(shadow)),
      90_000,
      running,
    );
    assert.deepEqual(
      expected.map((r) => r[0]),
      ["1", "2", ...Array.from({ length: rowCount - 4 }, (_, i) => String(i + 5)), "103"],
    );
    assert.equal(running.materializer.stats.deadLetters, 0);
  } finally {
    await running.stop();
  }
  const [positions] = await shadow.query(
    "SELECT next_offset FROM shadowdb_positions WHERE group_id = ? AND topic = ?",
    [`test-${suffix}`, topic],
  );
  assert.equal((positions as unknown[]).length, 1, "the position was stored with the rows");
});
