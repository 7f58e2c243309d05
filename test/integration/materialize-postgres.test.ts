/**
 * The materializer on the real stack, PostgreSQL → Debezium → Kafka → shadowdb → PostgreSQL:
 * a table of every type goes through insert, update, delete, primary-key change, truncate and a
 * TOASTed update; afterwards the shadow table equals the source cell by cell, as PostgreSQL renders it.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, test } from "node:test";
import pg from "pg";
import { postgresAllTypes } from "../fixtures/alltypes.ts";
import { services } from "../support/env.ts";
import { kafkaClient, waitForTopic } from "../support/kafka.ts";
import { eventually, startMaterializer } from "../support/materialize.ts";
import { uninstallOverlays } from "../support/overlay.ts";

const suffix = randomBytes(4).toString("hex");
const table = `mt_all_${suffix}`;
const mood = `mt_mood_${suffix}`;
// Values Debezium itself cannot carry (see test/fixtures/README.md): NaN numerics, dates before
// the 1582 calendar switch, XML declarations, money beyond a double's precision, infinite dates,
// and a timetz's own offset (Debezium sends the UTC time of day).
const upstreamLoss = /NaN|BC|0001-01-01|<\?xml|92233720368547758|1e-20|infinity|'00000000'/i;
const columns = postgresAllTypes.columns.map((c) => ({
  name: c.name,
  type: c.type.replaceAll("fx_mood", mood),
  values: c.values.filter((v) => !upstreamLoss.test(v) && (c.type !== "timetz" || /\+00'$/.test(v))),
}));
const rowCount = Math.max(...columns.map((c) => c.values.length)) + 1;

let prod: pg.Client;
let shadow: pg.Client;

async function setUp(client: pg.Client) {
  await client.query("CREATE EXTENSION IF NOT EXISTS hstore");
  await client.query("CREATE EXTENSION IF NOT EXISTS ltree");
  await client.query(`CREATE TYPE ${mood} AS ENUM ('sad', 'ok', 'happy', 'très bien')`);
  // The recommended path: the shadow runs the application's migrations, so both tables are alike.
  const defs = columns.map((c) => `${c.name} ${c.type}`).join(", ");
  await client.query(`CREATE TABLE ${table} (id int PRIMARY KEY, ${defs}, c_big text)`);
}

async function rows(client: pg.Client): Promise<string[][]> {
  const list = ["id", ...columns.map((c) => c.name), "c_big"].map((c) => `${c}::text`).join(", ");
  const { rows } = await client.query({
    text: `SELECT ${list} FROM ${table} ORDER BY ${table}.id`,
    rowMode: "array",
  });
  return rows as string[][];
}

const names = () => ["id", ...columns.map((c) => c.name), "c_big"];

/** true, or where the two tables first differ (row id, column, both texts). */
function firstDifference(expected: string[][], actual: string[][]): true | string {
  const ids = (t: string[][]) => t.map((r) => r[0]).join(",");
  if (ids(expected) !== ids(actual)) return `rows ${ids(actual)} instead of ${ids(expected)}`;
  for (const [i, row] of expected.entries()) {
    for (const [j, cell] of row.entries()) {
      if (actual[i]![j] !== cell)
        return `row ${row[0]} ${names()[j]}: ${JSON.stringify(actual[i]![j])} instead of ${JSON.stringify(cell)}`;
    }
  }
  return true;
}

before(async () => {
  const env = await services();
  prod = new pg.Client({ connectionString: env.SHADOWDB_PG_PROD_URL });
  shadow = new pg.Client({ connectionString: env.SHADOWDB_PG_SHADOW_URL });
  await prod.connect();
  await shadow.connect();
  for (const c of [prod, shadow]) await c.query("SET TimeZone = 'UTC'");
  await setUp(prod);
  await setUp(shadow);
});

after(async () => {
  const env = await services();
  await uninstallOverlays("postgres", env.SHADOWDB_PG_SHADOW_URL, [{ schema: "public", name: table }]);
  for (const c of [prod, shadow]) {
    await c?.query(`DROP TABLE IF EXISTS ${table}`);
    await c?.query(`DROP TYPE IF EXISTS ${mood}`);
    await c?.query(`DELETE FROM shadowdb_positions WHERE group_id = 'test-${suffix}'`).catch(() => undefined);
    await c?.end();
  }
});

test("every type, every operation: the shadow table equals the source", async () => {
  const env = await services();
  // A row that a truncate must remove from the shadow too.
  await prod.query(`INSERT INTO ${table} (id) VALUES (999)`);
  await prod.query(`TRUNCATE ${table}`);
  for (let i = 1; i <= rowCount; i++) {
    const present = columns.filter((c) => c.values[i - 2] !== undefined);
    const names = ["id", ...present.map((c) => c.name)].join(", ");
    const values = [String(i), ...present.map((c) => c.values[i - 2])].join(", ");
    await prod.query(`INSERT INTO ${table} (${names}) VALUES (${values})`);
  }
  const big = randomBytes(16_000).toString("hex");
  await prod.query(`UPDATE ${table} SET c_big = $1 WHERE id = 2`, [big]);
  // Only a small column changes: Debezium sends c_big as the unavailable placeholder.
  await prod.query(`UPDATE ${table} SET c_text = 'updated' WHERE id = 2`);
  await prod.query(`UPDATE ${table} SET id = 103 WHERE id = 3`);
  await prod.query(`DELETE FROM ${table} WHERE id = 4`);

  const topic = `${env.SHADOWDB_PG_TOPIC_PREFIX}.public.${table}`;
  await waitForTopic(kafkaClient(env.SHADOWDB_KAFKA_BROKERS), topic);
  const running = await startMaterializer(`
kafka: { brokers: "${env.SHADOWDB_KAFKA_BROKERS}", groupId: "test-${suffix}" }
target: { dialect: postgres, url: "${env.SHADOWDB_PG_SHADOW_URL}" }
tables: [ { topic: "${topic}", table: "public.${table}" } ]
deadLetter: { table: "public.shadowdb_dead_letters" }
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
    assert.equal(expected.find((r) => r[0] === "2")?.at(-1), big, "the TOASTed column kept its value");
    assert.deepEqual(
      expected.map((r) => r[0]),
      ["1", "2", ...Array.from({ length: rowCount - 4 }, (_, i) => String(i + 5)), "103"],
    );
    assert.equal(running.materializer.stats.deadLetters, 0);
    const letters = await shadow.query(
      `SELECT count(*)::int AS n FROM shadowdb_dead_letters WHERE group_id = $1`,
      [`test-${suffix}`],
    );
    assert.equal(letters.rows[0].n, 0);
  } finally {
    await running.stop();
  }
  const { rows: positions } = await shadow.query(
    "SELECT next_offset::text FROM shadowdb_positions WHERE group_id = $1 AND topic = $2",
    [`test-${suffix}`, topic],
  );
  assert.equal(positions.length, 1, "the position was stored with the rows");
});
