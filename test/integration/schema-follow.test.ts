/**
 * Schema following on the real stack, PostgreSQL and MariaDB (docs/schema.md): production runs a
 * migration sequence while it writes (add a NOT NULL column with a default, with a shadowdb restart
 * right before the first event that carries it; widen an integer, a varchar and a numeric's
 * precision and scale with values that need it; drop a column that is NOT NULL in the shadow), and
 * after each step the shadow equals production on production's columns, with no dead letter.
 * With schema.follow: none the same changes are drift, and the values the shadow cannot hold are
 * dead letters, never stored changed.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, test } from "node:test";
import { readTargetStatus } from "../../src/check/status.ts";
import { loadDialect } from "../../src/target/load.ts";
import type { Sql } from "../support/crash.ts";
import { type Engine, engines } from "../support/engines.ts";
import { services } from "../support/env.ts";
import { kafkaClient, waitForTopic } from "../support/kafka.ts";
import { eventually, type Running, startMaterializer } from "../support/materialize.ts";
import { uninstallOverlays } from "../support/overlay.ts";

const suffix = randomBytes(3).toString("hex");
const created: { engine: Engine; table: string; group: string }[] = [];

function textOf(engine: Engine, column: string): string {
  return engine.dialect === "postgres" ? `${column}::text` : `CAST(${column} AS CHAR)`;
}

async function columnsOf(sql: Sql, engine: Engine, schema: string, table: string): Promise<string[]> {
  const { rows } = await sql.query(
    engine.dialect === "postgres"
      ? "SELECT column_name AS c FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position"
      : "SELECT COLUMN_NAME AS c FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION",
    [schema, table],
  );
  return rows.map((r) => String(r.c));
}

/** Production's rows on production's columns, as text, or where the shadow first differs. */
async function sameRows(
  engine: Engine,
  prod: Sql,
  shadow: Sql,
  table: string,
  owned: number[] = [],
): Promise<true | string> {
  const columns = await columnsOf(prod, engine, engine.sourceSchema, table);
  // Rows the shadow owns (its own writes) read the shadow's version, not production's.
  const where = owned.length > 0 ? ` WHERE id NOT IN (${owned.join(", ")})` : "";
  const select = `SELECT ${columns.map((c) => textOf(engine, c)).join(", ")} FROM ${table}${where} ORDER BY id`;
  const text = (rows: Record<string, unknown>[]) => rows.map((r) => JSON.stringify(Object.values(r)));
  const expected = text((await prod.query(select)).rows);
  let actual: string[];
  try {
    actual = text((await shadow.query(select)).rows);
  } catch (error) {
    return String(error);
  }
  for (let i = 0; i < Math.max(expected.length, actual.length); i++)
    if (expected[i] !== actual[i]) return `row ${i}: ${actual[i]} instead of ${expected[i]}`;
  return true;
}

async function deadLetters(shadow: Sql, engine: Engine, group: string): Promise<string[]> {
  const { rows } = await shadow.query(
    `SELECT code FROM shadowdb_dead_letters WHERE group_id = ${engine.dialect === "postgres" ? "$1" : "?"} ORDER BY id`,
    [group],
  );
  return rows.map((r) => String(r.code));
}

function config(engine: Engine, table: string, group: string, follow: "safe" | "none"): string {
  return `
kafka: { brokers: "${engine.brokers}", groupId: "${group}" }
target: { dialect: ${engine.dialect}, url: "${engine.shadowUrl}" }
tables: [ { topic: "${engine.topic(table)}", table: "${engine.targetSchema}.${table}", schema: { follow: ${follow} } } ]
deadLetter: { table: "${engine.dialect === "postgres" ? "public" : engine.targetSchema}.shadowdb_dead_letters" }
http: { port: 0 }
`;
}

const ddl = (engine: Engine) => {
  const pg = engine.dialect === "postgres";
  return {
    create: (t: string) =>
      pg
        ? `CREATE TABLE ${t} (id int PRIMARY KEY, i int, v varchar(10), n numeric(6,2), d int NOT NULL, f real, ts timestamp(0))`
        : `CREATE TABLE ${t} (id int PRIMARY KEY, i int, v varchar(10), n decimal(6,2), d int NOT NULL, f float, ts datetime(0), e enum('a','b'))`,
    widen: (t: string) =>
      pg
        ? [
            `ALTER TABLE ${t} ALTER COLUMN i TYPE bigint`,
            `ALTER TABLE ${t} ALTER COLUMN v TYPE varchar(100)`,
            `ALTER TABLE ${t} ALTER COLUMN n TYPE numeric(12,4)`,
            `ALTER TABLE ${t} ALTER COLUMN f TYPE double precision`,
            `ALTER TABLE ${t} ALTER COLUMN ts TYPE timestamp(3)`,
          ]
        : [
            `ALTER TABLE ${t} MODIFY i bigint, MODIFY v varchar(100), MODIFY n decimal(12,4), MODIFY f double,
               MODIFY ts datetime(3), MODIFY e enum('a','b','c')`,
          ],
    /** A row whose every widened column needs the wider type. */
    wide: (t: string) =>
      `INSERT INTO ${t} (id, i, v, n, d, f, ts${pg ? "" : ", e"}) VALUES (5, 3000000000, '${"x".repeat(50)}', 12345678.1234, 5, 1.0000001234567, '2024-01-01 10:00:00.123'${pg ? "" : ", 'c'"})`,
  };
};

async function setUp(engine: Engine, follow: "safe" | "none") {
  const table = `hd_sf_${follow}_${suffix}`;
  const group = `test-hd-${follow}-${suffix}`;
  created.push({ engine, table, group });
  const prod = await engine.connectProd();
  const shadow = await engine.connectShadow();
  // The shadow runs the application's migrations: both tables start alike.
  for (const sql of [prod, shadow]) await sql.query(ddl(engine).create(table));
  for (let id = 1; id <= 3; id++)
    await prod.query(`INSERT INTO ${table} (id, i, v, n, d) VALUES (${id}, ${id}, 'v${id}', ${id}.5, ${id})`);
  // Connect can be slow to create a topic on a loaded machine.
  await waitForTopic(kafkaClient(engine.brokers), engine.topic(table), 120_000);
  return { table, group, prod, shadow };
}

async function followSafe(engine: Engine) {
  const { table, group, prod, shadow } = await setUp(engine, "safe");
  const yaml = config(engine, table, group, "safe");
  let owned: number[] = [];
  const equal = (running: Running, what: string) =>
    eventually(what, () => sameRows(engine, prod, shadow, table, owned), 90_000, running);
  let running = await startMaterializer(yaml);
  try {
    await equal(running, "initial rows");
  } finally {
    await running.stop();
  }
  // Added while shadowdb is down: the first event it reads after the restart carries the column.
  await prod.query(`ALTER TABLE ${table} ADD COLUMN c2 int NOT NULL DEFAULT 7`);
  await prod.query(`INSERT INTO ${table} (id, i, v, n, d, c2) VALUES (4, 4, 'v4', 4.5, 4, 8)`);
  running = await startMaterializer(yaml);
  try {
    await equal(running, "the added column, existing rows with production's default");
    // The shadow's own write: row 1 is owned, production's later versions of it go to the copy.
    await shadow.query(`UPDATE ${table} SET v = 'own' WHERE id = 1`);
    owned = [1];
    for (const sql of ddl(engine).widen(table)) await prod.query(sql);
    await prod.query(ddl(engine).wide(table));
    await prod.query(`INSERT INTO ${table} (id, i, v, n, d) VALUES (6, 6, 'v6', 1.2345, 6)`);
    await prod.query(`UPDATE ${table} SET v = '${"y".repeat(60)}' WHERE id = 1`);
    await equal(running, "the widened columns");
    await prod.query(`ALTER TABLE ${table} DROP COLUMN d`);
    await prod.query(`INSERT INTO ${table} (id, i, v, n) VALUES (7, 7, 'v7', 7.5)`);
    await prod.query(`UPDATE ${table} SET v = 'u2' WHERE id = 2`);
    await equal(running, "writes after production dropped a NOT NULL column");
    assert.deepEqual(await deadLetters(shadow, engine, group), []);
    const copy = await shadow.query(`SELECT v FROM shadowdb_prod_${table} WHERE id = 1`);
    assert.deepEqual(copy.rows, [{ v: "y".repeat(60) }], "the overlay's copy took the widened value");
    const drift = (
      running.materializer.status().drift as Record<string, { column: string; action: string }[]>
    )[`${engine.targetSchema}.${table}`];
    const actions = Object.fromEntries((drift ?? []).map((e) => [e.column, e.action]));
    const widened = { i: "widened", v: "widened", n: "widened", f: "widened", ts: "widened" };
    assert.deepEqual(actions, {
      c2: "added",
      ...widened,
      ...(engine.dialect === "mysql" ? { e: "widened" } : {}),
      d: "relaxed",
    });
  } finally {
    await running.stop();
    await prod.end();
    await shadow.end();
  }
}

async function followNone(engine: Engine) {
  const { table, group, prod, shadow } = await setUp(engine, "none");
  const running = await startMaterializer(config(engine, table, group, "none"));
  try {
    await eventually("initial rows", () => sameRows(engine, prod, shadow, table), 90_000, running);
    for (const sql of ddl(engine).widen(table)) await prod.query(sql);
    await prod.query(`INSERT INTO ${table} (id, i, v, n, d) VALUES (5, 3000000000, 'v5', 5.5, 5)`);
    await prod.query(`INSERT INTO ${table} (id, i, v, n, d) VALUES (6, 6, '${"x".repeat(50)}', 6.5, 6)`);
    await prod.query(`INSERT INTO ${table} (id, i, v, n, d) VALUES (7, 7, 'v7', 1.2345, 7)`);
    await prod.query(`INSERT INTO ${table} (id, i, v, n, d) VALUES (8, 8, 'v8', 8.25, 8)`);
    const p = engine.dialect === "postgres" ? "$1" : "?";
    await eventually(
      "the row after the refused ones",
      async () =>
        (await shadow.query(`SELECT id FROM ${table} WHERE id = ${p}`, [8])).rows.length === 1
          ? true
          : "no row 8",
      90_000,
      running,
    );
    const letters = await deadLetters(shadow, engine, group);
    // Refused before the database sees them: MariaDB would clamp the integer and round the decimal.
    assert.deepEqual(letters, ["TARGET_VALUE_ALTERED", "TARGET_VALUE_ALTERED", "TARGET_VALUE_ALTERED"]);
    const { rows } = await shadow.query(`SELECT id FROM ${table} WHERE id IN (5, 6, 7)`);
    assert.deepEqual(rows, [], "nothing stored changed");
    const { rows: types } = await shadow.query(
      engine.dialect === "postgres"
        ? `SELECT format_type(atttypid, atttypmod) AS t FROM pg_attribute WHERE attrelid = '${table}'::regclass AND attname = 'v'`
        : `SELECT COLUMN_TYPE AS t FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = 'shadow' AND TABLE_NAME = '${table}' AND COLUMN_NAME = 'v'`,
    );
    assert.match(String(types[0]!.t), /varying\(10\)|varchar\(10\)/, "the shadow's type is left as it was");
    const drift = (
      running.materializer.status().drift as Record<string, { column: string; action: string }[]>
    )[`${engine.targetSchema}.${table}`];
    const actions = Object.fromEntries((drift ?? []).map((e) => [e.column, e.action]));
    const expected = { i: "drift", v: "drift", n: "drift", f: "drift", ts: "drift" };
    assert.deepEqual(actions, engine.dialect === "mysql" ? { ...expected, e: "drift" } : expected);
    // `shadowdb status` tells the same from the target alone, without the running instance.
    const status = await readTargetStatus(running.config, await loadDialect(engine.dialect));
    const recorded = status.drift.find((d) => d.table === `${engine.targetSchema}.${table}`);
    assert.deepEqual(recorded?.columns.map((c) => c.column).sort(), Object.keys(actions).sort());
  } finally {
    await running.stop();
    await prod.end();
    await shadow.end();
  }
}

let all: Engine[] = [];

before(async () => {
  all = engines(await services());
});

after(async () => {
  for (const { engine, table, group } of created) {
    await uninstallOverlays(engine.dialect, engine.shadowUrl, [{ schema: engine.targetSchema, name: table }]);
    const prod = await engine.connectProd();
    const shadow = await engine.connectShadow();
    const p = (n: number) => (engine.dialect === "postgres" ? `$${n}` : "?");
    await prod.query(`DROP TABLE IF EXISTS ${table}`);
    await shadow.query(`DROP TABLE IF EXISTS ${table}`);
    await shadow.query(`DELETE FROM shadowdb_positions WHERE group_id = ${p(1)}`, [group]);
    await shadow.query(`DELETE FROM shadowdb_dead_letters WHERE group_id = ${p(1)}`, [group]);
    await shadow.query(`DELETE FROM shadowdb_columns WHERE table_name = ${p(1)}`, [table]);
    await prod.end();
    await shadow.end();
  }
});

for (const name of ["postgres", "mariadb"] as const) {
  test(`${name}: schema.follow safe follows an add with default across a restart, widenings and a drop`, async () => {
    await followSafe(all.find((e) => e.name === name)!);
  });
  test(`${name}: schema.follow none reports drift and dead-letters what the shadow cannot hold`, async () => {
    await followNone(all.find((e) => e.name === name)!);
  });
}
