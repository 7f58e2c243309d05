/**
 * Schema following's decisions (src/target/drift.ts) on a fake target, the widening of types
 * (src/target/type-shape.ts) and the check that no value is stored changed (src/target/fit.ts).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { TableMapping } from "../../src/config/index.ts";
import type { Column, ColumnType } from "../../src/decode/index.ts";
import { isShadowdbError } from "../../src/errors.ts";
import { createLogger } from "../../src/log.ts";
import type { TableShape, TableWrite } from "../../src/target/dialect.ts";
import { planSchema } from "../../src/target/drift.ts";
import { assertStoredAsSent } from "../../src/target/fit.ts";
import { TargetTables } from "../../src/target/tables.ts";
import { parseSqlType, productionShape, renderType, widen } from "../../src/target/type-shape.ts";
import { FakeTarget } from "../support/fake-target.ts";

const table = { schema: "public", name: "t" };
const log = createLogger("silent");

function col(name: string, kind: ColumnType["kind"], extra: Partial<ColumnType> = {}): Column {
  return { name, type: { kind, optional: true, ...extra } };
}

const varchar = (name: string, length: number) =>
  col(name, "string", { source: { type: "VARCHAR", length } });

function shape(columns: Record<string, string>, notNull: string[] = []): TableShape {
  return {
    name: table,
    primaryKey: ["id"],
    columns: new Map(
      Object.entries(columns).map(([name, sqlType]) => [
        name,
        { name, sqlType, nullable: name !== "id" && !notNull.includes(name), hasDefault: false },
      ]),
    ),
  };
}

const plan = (input: Partial<Parameters<typeof planSchema>[0]>) =>
  planSchema({
    columns: [],
    key: ["id"],
    shape: shape({ id: "integer" }),
    known: new Map(),
    follow: "safe",
    dialect: "postgres",
    fallbackType: () => "text",
    ...input,
  });

test("a column never recorded is production's new one: added with its type, default and NOT NULL", () => {
  const c2 = col("c2", "int32", { optional: false, default: 7, source: { type: "INT4" } });
  const p = plan({ columns: [col("id", "int32"), c2], known: new Map([["id", "INT4"]]) });
  assert.deepEqual(p.changes, [{ op: "add", column: c2, sqlType: "integer" }]);
  assert.equal(p.entries[0]!.action, "added");
  assert.match(p.entries[0]!.detail, /default, NOT NULL/);
  assert.deepEqual(
    p.record.map((r) => r.name),
    ["id", "c2"],
  );
});

test("a string default with a quote is left out (Debezium mangles it) and the column is nullable", () => {
  const c = varchar("c", 20);
  c.type.default = "x''y";
  c.type.optional = false;
  const p = plan({ columns: [c], known: new Map([["id", "INT4"]]) });
  const add = p.changes[0] as Extract<(typeof p.changes)[0], { op: "add" }>;
  assert.equal(add.column.type.default, undefined);
  assert.equal(add.sqlType, "character varying(20)");
  assert.match(p.entries[0]!.detail, /default not carried.*nullable/);
});

test("an expression default (Debezium sends 1970-01-01) and a backslash are not carried; a date default is", () => {
  const known = new Map([["id", "INT4"]]);
  const now = col("ts", "timestamptz", { optional: false, default: "1970-01-01T00:00:00.000000Z" });
  const slash = col("s", "string", { default: "a\\\\b" });
  const day = col("d", "date", { default: "2020-01-02" });
  const p = plan({ columns: [now, slash, day], known });
  const defaults = p.changes.map((c) => (c.op === "add" ? c.column.type.default : "?"));
  assert.deepEqual(defaults, [undefined, undefined, "2020-01-02"]);
  assert.match(p.entries[0]!.detail, /CURRENT_TIMESTAMP.*nullable/);
  assert.match(p.entries[1]!.detail, /backslash/);
});

test("a column recorded before and missing from the shadow was dropped by the shadow: kept away", () => {
  const p = plan({
    columns: [col("id", "int32"), col("gone", "string")],
    known: new Map([["gone", "TEXT"]]),
  });
  assert.deepEqual(p.changes, []);
  assert.deepEqual(
    p.entries.map((e) => [e.column, e.action]),
    [["gone", "kept"]],
  );
});

test("with nothing recorded yet, a column the shadow lacks is taken as the shadow's own", () => {
  const p = plan({ columns: [col("id", "int32"), col("x", "string")], known: undefined });
  assert.deepEqual(p.changes, []);
  assert.equal(p.entries[0]!.action, "kept");
  assert.equal(p.record.length, 2, "the first record is the baseline");
});

test("widenings follow; a narrower or equal production type changes nothing", () => {
  const p = plan({
    shape: shape({
      id: "integer",
      i: "integer",
      v: "character varying(10)",
      n: "numeric(6,2)",
      s: "smallint",
    }),
    columns: [
      col("i", "int64"),
      varchar("v", 100),
      col("n", "decimal", { precision: 8, scale: 4 }),
      col("s", "int16"),
    ],
  });
  assert.deepEqual(p.changes, [
    { op: "widen", column: "i", sqlType: "bigint" },
    { op: "widen", column: "v", sqlType: "character varying(100)" },
    // 4 digits before the point (the shadow's) and 4 after (production's).
    { op: "widen", column: "n", sqlType: "numeric(8,4)" },
  ]);
});

test("a NOT NULL column without default that production stopped sending is relaxed; shadow-only columns are not touched", () => {
  const p = plan({
    shape: shape({ id: "integer", d: "integer", own: "integer" }, ["d", "own"]),
    columns: [col("id", "int32")],
    known: new Map([
      ["id", "INT4"],
      ["d", "INT4"],
    ]),
  });
  assert.deepEqual(p.changes, [{ op: "relax", column: "d" }]);
  assert.deepEqual(
    p.entries.map((e) => e.column),
    ["d"],
  );
});

test("with follow none every change is drift and nothing is altered", () => {
  const p = plan({
    follow: "none",
    shape: shape({ id: "integer", i: "integer", d: "integer" }, ["d"]),
    columns: [col("id", "int32"), col("i", "int64"), col("new", "int32")],
    known: new Map([
      ["id", "INT4"],
      ["i", "INT4"],
      ["d", "INT4"],
    ]),
  });
  assert.deepEqual(p.changes, []);
  assert.deepEqual(
    p.entries.map((e) => [e.column, e.action]),
    [
      ["i", "drift"],
      ["new", "drift"],
      ["d", "drift"],
    ],
  );
});

const mapping = (schemaFollow?: "safe" | "none"): TableMapping => ({
  entry: 0,
  envelope: "debezium",
  table,
  columns: { exclude: [], rename: {}, mask: {} },
  diff: { ignore: [] },
  ...(schemaFollow ? { schemaFollow } : {}),
});

test("after a restart, the first event that carries a new column adds it: the record lives in the target", async () => {
  const target = new FakeTarget();
  target.defineTable(table, { id: "integer", a: "text" }, ["id"]);
  const before = [col("id", "int32"), col("a", "string")];
  await new TargetTables(target, log).shapeFor(mapping(), before, ["id"]);
  // A new process (nothing in memory) meets the new column first.
  const decisions: string[] = [];
  const tables = new TargetTables(target, log, undefined, {
    follow: "safe",
    onDecision: (t, e) => decisions.push(`${t} ${e.column} ${e.action}`),
  });
  const after = [...before, col("c2", "int32", { optional: false, default: 7 })];
  const shape = await tables.shapeFor(mapping(), after, ["id"]);
  assert.ok(shape.columns.has("c2"));
  assert.deepEqual(decisions, ["public.t c2 added"]);
  assert.ok(target.schemaCalls.includes("alterColumns public.t (add c2 integer)"));
  // Decided once per event schema, not once per batch.
  await tables.shapeFor(mapping(), after, ["id"]);
  assert.equal(target.schemaCalls.filter((c) => c.startsWith("alterColumns")).length, 1);
  assert.deepEqual([...(target.known.get("public.t")?.keys() ?? [])], ["id", "a", "c2"]);
});

test("the shadow's migration drops a column shadowdb recorded: it is never added back, even after a restart", async () => {
  const target = new FakeTarget();
  target.defineTable(table, { id: "integer", a: "text" }, ["id"]);
  const columns = [col("id", "int32"), col("a", "string")];
  await new TargetTables(target, log).shapeFor(mapping(), columns, ["id"]);
  target.dropColumn(table, "a");
  const tables = new TargetTables(target, log);
  const shape = await tables.shapeFor(mapping(), columns, ["id"]);
  assert.ok(!shape.columns.has("a"));
  assert.equal(tables.driftReport()["public.t"]![0]!.action, "kept");
  assert.ok(!target.schemaCalls.some((c) => c.startsWith("alterColumns")));
});

test("a table entry's schema.follow none overrides the top-level safe", async () => {
  const target = new FakeTarget();
  target.defineTable(table, { id: "integer", i: "integer" }, ["id"]);
  const tables = new TargetTables(target, log);
  await tables.shapeFor(mapping("none"), [col("id", "int32"), col("i", "int32")], ["id"]);
  await tables.shapeFor(mapping("none"), [col("id", "int32"), col("i", "int64")], ["id"]);
  assert.equal(tables.driftReport()["public.t"]![0]!.action, "drift");
  assert.ok(!target.schemaCalls.some((c) => c.startsWith("alterColumns")));
});

test("a refused ALTER is reported as failed, not thrown; the other changes are still made", async () => {
  const target = new FakeTarget();
  target.defineTable(table, { id: "integer", i: "integer", j: "integer" }, ["id"]);
  const tables = new TargetTables(target, log);
  const before = [col("id", "int32"), col("i", "int32"), col("j", "int32")];
  await tables.shapeFor(mapping(), before, ["id"]);
  target.failAlter = (changes) =>
    changes.some((c) => c.op === "widen" && c.column === "i") ? new Error("a view depends on it") : undefined;
  const shape = await tables.shapeFor(
    mapping(),
    [col("id", "int32"), col("i", "int64"), col("j", "int64")],
    ["id"],
  );
  const entries = Object.fromEntries(tables.driftReport()["public.t"]!.map((e) => [e.column, e]));
  assert.equal(entries.i!.action, "failed");
  assert.match(entries.i!.detail, /a view depends on it/);
  assert.equal(entries.j!.action, "widened");
  assert.equal(shape.columns.get("j")!.sqlType, "bigint");
});

test("a lost connection during an ALTER is thrown for the batch to retry, and decided again then", async () => {
  const target = new FakeTarget();
  target.defineTable(table, { id: "integer", i: "integer" }, ["id"]);
  const lost = new Error("connection terminated");
  const tables = new TargetTables(target, log, undefined, { follow: "safe", retriable: (e) => e === lost });
  await tables.shapeFor(mapping(), [col("id", "int32"), col("i", "int32")], ["id"]);
  const wider = [col("id", "int32"), col("i", "int64")];
  target.failAlter = () => lost;
  await assert.rejects(tables.shapeFor(mapping(), wider, ["id"]), (e) => e === lost);
  target.failAlter = () => undefined;
  const shape = await tables.shapeFor(mapping(), wider, ["id"]);
  assert.equal(shape.columns.get("i")!.sqlType, "bigint");
});

test("type texts of both dialects parse, widen and render", () => {
  const pg = (t: string) => parseSqlType(t, "postgres");
  const my = (t: string) => parseSqlType(t, "mysql");
  assert.deepEqual(pg("timestamp(3) without time zone"), {
    family: "temporal",
    base: "timestamp",
    digits: 3,
  });
  assert.deepEqual(my("enum('a','b''c')"), { family: "enum", labels: ["a", "b'c"] });
  assert.deepEqual(my("int(10) unsigned"), { family: "int", bits: 32, unsigned: true });
  assert.equal(pg("jsonb"), undefined);
  const wider = (shadow: string, production: Column, dialect: "postgres" | "mysql") => {
    const w = widen(parseSqlType(shadow, dialect)!, productionShape(production, dialect)!, dialect);
    return w && renderType(w, dialect);
  };
  assert.equal(wider("float", col("f", "float64"), "mysql"), "double");
  // A signed int's own negatives and all of int unsigned: only bigint holds both.
  assert.equal(wider("int(11)", col("u", "int64", { source: { type: "INT UNSIGNED" } }), "mysql"), "bigint");
  assert.equal(
    wider("int(10) unsigned", col("u", "int64", { source: { type: "BIGINT UNSIGNED" } }), "mysql"),
    "bigint unsigned",
  );
  assert.equal(
    wider("datetime(0)", col("t", "timestamp", { source: { type: "DATETIME", length: 3 } }), "mysql"),
    "datetime(3)",
  );
  assert.equal(wider("enum('a')", col("e", "enum", { allowed: ["a", "b"] }), "mysql"), "enum('a','b')");
  assert.equal(wider("character varying(100)", varchar("v", 10), "postgres"), undefined, "never narrowed");
  assert.equal(wider("text", col("i", "int64"), "postgres"), undefined, "never changed in kind");
});

function write(
  columns: Record<string, string>,
  types: Record<string, ColumnType>,
  row: TableWrite["upserts"][0],
) {
  return { table: shape({ id: "integer", ...columns }), types, upserts: [row], deletes: [], truncate: false };
}

const altered = (w: TableWrite, dialect: "postgres" | "mysql" = "mysql") =>
  assert.throws(
    () => assertStoredAsSent(w, dialect),
    (e: unknown) => isShadowdbError(e, "TARGET_VALUE_ALTERED"),
  );

test("a value the column would round, truncate or clamp is refused; one it holds passes", () => {
  const dec = { kind: "decimal", optional: true } as ColumnType;
  altered(write({ n: "decimal(6,2)" }, { n: dec }, { id: 1, n: "1.2345" }));
  altered(write({ n: "decimal(6,2)" }, { n: dec }, { id: 1, n: "12345.5" }));
  assertStoredAsSent(write({ n: "decimal(6,2)" }, { n: dec }, { id: 1, n: "-1234.5000" }), "mysql");
  altered(write({ i: "int(11)" }, {}, { id: 1, i: 3_000_000_000 }));
  altered(write({ i: "bigint(20)" }, {}, { id: 1, i: 2n ** 63n }));
  assertStoredAsSent(write({ i: "bigint(20) unsigned" }, {}, { id: 1, i: 2n ** 63n }), "mysql");
  altered(write({ i: "bigint(20)" }, {}, { id: 1, i: "18446744073709551615" }), "mysql");
  altered(write({ i: "int(11)" }, {}, { id: 1, i: 1.5 }));
  altered(write({ n: "decimal(6,2)" }, {}, { id: 1, n: 1.2345 }));
  assertStoredAsSent(write({ n: "decimal(6,2)" }, {}, { id: 1, n: 0.3 }), "mysql");
  altered(write({ v: "varchar(3)" }, {}, { id: 1, v: "abcd" }));
  assertStoredAsSent(write({ v: "varchar(3)" }, {}, { id: 1, v: "éé😀" }), "mysql");
  altered(write({ t: "datetime(3)" }, {}, { id: 1, t: "2024-01-01T00:00:00.123456" }));
  assertStoredAsSent(write({ t: "datetime(3)" }, {}, { id: 1, t: "2024-01-01T00:00:00.123000" }), "mysql");
  altered(write({ e: "enum('a','b')" }, {}, { id: 1, e: "c" }));
  altered(write({ s: "set('a','b')" }, {}, { id: 1, s: "a,c" }));
  const double = { kind: "float64", optional: true } as ColumnType;
  altered(write({ f: "real" }, { f: double }, { id: 1, f: 0.1 + 0.2 }), "postgres");
  assertStoredAsSent(write({ f: "real" }, { f: double }, { id: 1, f: 1.5 }), "postgres");
  assertStoredAsSent(write({ j: "jsonb" }, {}, { id: 1, j: "{}" }), "postgres");
});
