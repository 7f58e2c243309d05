/**
 * The COPY path against the unnest path, on the real PostgreSQL: the same decoded rows (messages
 * recorded from the real stack, every type, every connector mode) written through each into twin
 * tables give the same cells, and the cells the source database held. Needs PostgreSQL only.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, test } from "node:test";
import pg from "pg";
import { stringify } from "yaml";
import { coalesce } from "../../src/batch/coalesce.ts";
import { parseConfig, resolveTable } from "../../src/config/index.ts";
import { type ColumnType, RecordDecoder, type Row, type Value } from "../../src/decode/index.ts";
import { type MappedChange, Mapper } from "../../src/map/mapper.ts";
import type { QualifiedName, TableWrite } from "../../src/target/dialect.ts";
import { classifyPostgres } from "../../src/target/postgres/errors.ts";
import { PostgresTarget } from "../../src/target/postgres/target.ts";
import { stackEnv } from "../../stack/layout.ts";
import { type Fixture, readFixture, tableRecords } from "../support/fixtures.ts";
import { compareCell } from "../support/source-text.ts";

const url = process.env.SHADOWDB_PG_SHADOW_URL ?? stackEnv().SHADOWDB_PG_SHADOW_URL;
const suffix = randomBytes(4).toString("hex");
const mood = `cp_mood_${suffix}`;
const viaUnnest = new PostgresTarget(url, undefined, { copyThreshold: Number.MAX_SAFE_INTEGER });
const viaCopy = new PostgresTarget(url, undefined, { copyThreshold: 1 });
const tables: string[] = [];
let db: pg.Client;

before(async () => {
  db = new pg.Client({ connectionString: url });
  await db.connect();
  // The fixture recorder's settings for its source reads: texts compare as they are.
  await db.query(
    "SET TimeZone='UTC'; SET DateStyle='ISO'; SET IntervalStyle='iso_8601'; SET extra_float_digits=3",
  );
  await db.query("CREATE EXTENSION IF NOT EXISTS hstore");
  await db.query("CREATE EXTENSION IF NOT EXISTS ltree");
  await db.query(`CREATE TYPE ${mood} AS ENUM ('sad', 'ok', 'happy', 'très bien')`);
});

after(async () => {
  await viaUnnest.close();
  await viaCopy.close();
  for (const t of tables) await db.query(`DROP TABLE IF EXISTS ${t}`);
  await db.query(`DROP TYPE IF EXISTS ${mood}`);
  await db.end();
});

/** Twin tables (unnest, copy) with the given columns and key, dropped after the run. */
async function twins(base: string, columns: Record<string, string>, key: string[]): Promise<QualifiedName[]> {
  const defs = Object.entries(columns).map(([n, t]) => `${n} ${t.replaceAll("fx_mood", mood)}`);
  const names = [`${base}_unnest_${suffix}`, `${base}_copy_${suffix}`];
  for (const name of names) {
    await db.query(`CREATE TABLE ${name} (${defs.join(", ")}, PRIMARY KEY (${key.join(", ")}))`);
    tables.push(name);
  }
  return names.map((name) => ({ schema: "public", name }));
}

interface Batch {
  changes: MappedChange[];
  types: Record<string, ColumnType>;
}

/** The fixture's messages decoded and mapped as the materializer does; one batch per message when asked. */
function batches(fixture: Fixture, perMessage = false): Batch[] {
  const records = tableRecords(fixture);
  const config = parseConfig(
    stringify({
      kafka: { brokers: "a:1", groupId: "g" },
      target: { dialect: "postgres", url: "postgres://h/shadow" },
      tables: [
        {
          topic: records[0]!.topic,
          table: "public.t",
          envelope: fixture.mode === "unwrap-rewrite" ? "flattened" : "debezium",
        },
      ],
      http: { port: 0 },
    }),
    "copy-test.yaml",
    {},
  );
  const mapper = new Mapper(resolveTable(config, records[0]!.topic)!);
  const binary = { "binary-hex": "hex", "binary-base64": "base64" } as const;
  const decoder = new RecordDecoder({
    binaryHandlingMode: binary[fixture.mode as keyof typeof binary] ?? "bytes",
  });
  const out: Batch[] = [];
  for (const record of records) {
    const event = decoder.decode(record, mapper.mapping.envelope);
    if (event.op !== "c" && event.op !== "u" && event.op !== "r" && event.op !== "d" && event.op !== "t")
      continue;
    if (perMessage || out.length === 0) out.push({ changes: [], types: {} });
    const batch = out.at(-1)!;
    if (event.op !== "t") for (const c of mapper.targetColumns(event.columns)) batch.types[c.name] = c.type;
    batch.changes.push(mapper.map(event));
  }
  return out;
}

/** One transaction of `target`, as apply/apply.ts builds its TableWrite. */
async function apply(target: PostgresTarget, name: QualifiedName, batch: Batch): Promise<void> {
  const shape = (await target.describe(name))!;
  const { truncate, deletes, upserts } = coalesce(batch.changes);
  // Event columns the target lacks (ExtractNewRecordState's __ fields) are not sent.
  const known = upserts.map((r) =>
    Object.fromEntries(Object.entries(r).filter(([n]) => shape.columns.has(n))),
  );
  const write: TableWrite = { table: shape, types: batch.types, truncate, deletes, upserts: known };
  await target.transaction((tx) => tx.write(write));
}

async function applyBoth(names: QualifiedName[], batch: Batch): Promise<void> {
  await apply(viaUnnest, names[0]!, batch);
  await apply(viaCopy, names[1]!, batch);
}

/** Every cell as PostgreSQL renders it, ordered by key. */
async function cells(name: QualifiedName, columns: string[], key: string[]): Promise<(string | null)[][]> {
  const { rows } = await db.query({
    text: `SELECT ${columns.map((c) => `${c}::text`).join(", ")} FROM ${name.name} ORDER BY ${key.join(", ")}`,
    rowMode: "array",
  });
  return rows;
}

/** The COPY table equals the unnest table cell by cell (the message names the first difference). */
async function assertTwinsEqual(names: QualifiedName[], columns: string[], key: string[]) {
  const [unnest, copy] = [await cells(names[0]!, columns, key), await cells(names[1]!, columns, key)];
  assert.equal(copy.length, unnest.length, "row count");
  for (const [i, row] of unnest.entries())
    for (const [j, cell] of row.entries())
      assert.equal(copy[i]![j], cell, `row ${row[0]} ${columns[j]}: COPY wrote what unnest did not`);
  return unnest;
}

/**
 * Cells where the target differs from the source because of what Debezium sends (see
 * test/fixtures/README.md and the decoder's fixture test), not because of how it is written.
 */
const upstream: { type: RegExp; source: RegExp; why: string }[] = [
  { type: /^numeric/, source: /NaN/, why: "NaN has no Decimal form" },
  { type: /^(date|timestamp|timestamptz)/, source: /^(0001-01-01|4713-01-01)/, why: "Julian calendar" },
  { type: /^xml$/, source: /^<\?xml/, why: "the XML declaration is dropped" },
  { type: /^money$/, source: /92,233,720,368,547,758/, why: "money extremes are read as a double" },
  { type: /^timetz$/, source: /[+-](?!00$)\d\d(:\d\d)?$/, why: "timetz arrives in UTC" },
];

const lostUpstream = (type: string, source: string | null) =>
  upstream.some((u) => u.type.test(type) && u.source.test(source ?? ""));

/**
 * The batch without the cells Debezium already spoiled: some of them (snapshot dates shifted to
 * year 0, money read as a double) the target refuses, on either path.
 */
function withoutUpstreamLosses(fixture: Fixture, batch: Batch): Batch {
  const sources = new Map(fixture.sourceRows!.map((r) => [r.id, r]));
  const changes = batch.changes.map((c): MappedChange => {
    if (c.kind !== "upsert") return c;
    const source = sources.get(String(c.row.id));
    // A row the batch deletes again is not among the source rows, and never written.
    if (!source) return c;
    const row: Row = { ...c.row };
    for (const [name, type] of Object.entries(fixture.columns!))
      if (name in row && lostUpstream(type, source[name] ?? null)) row[name] = null;
    return { ...c, row };
  });
  return { changes, types: batch.types };
}

function sourceDifferences(
  fixture: Fixture,
  target: (string | null)[][],
  rename = (r: number) => r,
): string[] {
  const columns = Object.entries(fixture.columns!);
  const out: string[] = [];
  for (const [i, row] of target.entries()) {
    const source = fixture.sourceRows![rename(i)]!;
    for (const [j, [name, type]] of columns.entries()) {
      if (fixture.key!.includes(name)) continue;
      const want = source[name] ?? null;
      const got = row[j] ?? null;
      if (got === want || lostUpstream(type, want)) continue;
      // Numeric interval mode carries a duration (a month as 30.4375 days): compare that.
      if (type === "interval" && fixture.mode !== "interval-string" && got !== null && want !== null) {
        const ctx = { engine: "postgres", sqlType: type, mode: "interval-string" } as const;
        const { expected, actual } = compareCell(ctx, want, got);
        if (expected === actual) continue;
      }
      out.push(`row ${row[0]} ${name} (${type}): ${JSON.stringify(got)}, source ${JSON.stringify(want)}`);
    }
  }
  return out;
}

/**
 * Applies `batch` through both paths: both accept it (true), or both refuse it and the
 * materializer classifies both refusals alike (false). The SQLSTATE itself may differ: with
 * several bad cells, unnest meets the first bad column first, COPY the first bad row.
 */
async function bothAgree(names: QualifiedName[], batch: Batch): Promise<boolean> {
  const refused = await apply(viaUnnest, names[0]!, batch).then(
    () => undefined,
    (e: unknown) => classifyPostgres(e).code,
  );
  if (refused === undefined) {
    await apply(viaCopy, names[1]!, batch);
    return true;
  }
  await assert.rejects(apply(viaCopy, names[1]!, batch), (e) => {
    assert.equal(classifyPostgres(e).code, refused, `unnest: ${refused}, COPY: ${String(e)}`);
    return true;
  });
  return false;
}

// Modes whose values cross exactly; the others are compared twin to twin only: decimal-double and
// time-connect lose digits by design, binary-hex/base64 need column.propagate.source.type to tell
// bytes from text (the recording has none), and schemaless topics carry no types at all.
const exact = new Set([
  "default",
  "decimal-string",
  "interval-string",
  "hstore-map",
  "time-adaptive-micro",
  "unwrap-rewrite",
]);
const fixtures = [
  "postgres/default/alltypes-insert.json",
  ...[...exact, "decimal-double", "time-connect", "binary-hex", "binary-base64"].map(
    (m) => `postgres/${m}/alltypes-snapshot.json`,
  ),
];

for (const file of fixtures) {
  test(`every type through COPY equals unnest and the source: ${file}`, async () => {
    const fixture = readFixture(file);
    const base = `cp_${fixture.mode.replaceAll("-", "_")}_${file.includes("insert") ? "i" : "s"}`;
    const names = await twins(base, fixture.columns!, fixture.key!);
    const [batch] = batches(fixture);
    // As the materializer does: the whole batch; if refused, record by record.
    if (!(await bothAgree(names, batch!))) {
      const cleaned = withoutUpstreamLosses(fixture, batch!);
      if (!(await bothAgree(names, cleaned)))
        for (const change of cleaned.changes)
          await bothAgree(names, { changes: [change], types: cleaned.types });
    }
    const columns = Object.keys(fixture.columns!);
    const target = await assertTwinsEqual(names, columns, fixture.key!);
    if (!exact.has(fixture.mode)) return;
    assert.equal(target.length, fixture.sourceRows!.length);
    assert.deepEqual(sourceDifferences(fixture, target), []);
  });
}

test("upserts over existing rows: every row takes another row's values, through COPY as through unnest", async () => {
  const fixture = readFixture("postgres/default/alltypes-insert.json");
  const names = await twins("cp_over", fixture.columns!, fixture.key!);
  const [batch] = batches(fixture);
  await applyBoth(names, batch!);
  // Row k gets row k+1's values (the last gets the first's): every column of every row changes,
  // NULLs replace values and values replace NULLs.
  const upserts = batch!.changes.filter((c) => c.kind === "upsert");
  const n = upserts.length;
  const rotated: MappedChange[] = upserts.map((c, k) => {
    const next = upserts[(k + 1) % n]!;
    return { ...next, keyId: c.keyId, row: { ...next.row, id: c.row.id! } };
  });
  await applyBoth(names, { changes: rotated, types: batch!.types });
  const target = await assertTwinsEqual(names, Object.keys(fixture.columns!), fixture.key!);
  // Rows are ordered by id 1..n, as the recorded sourceRows are.
  assert.deepEqual(
    fixture.sourceRows!.map((r) => r.id),
    target.map((r) => r[0]),
  );
  assert.deepEqual(
    sourceDifferences(fixture, target, (i) => (i + 1) % n),
    [],
  );
});

test("TOAST: an update without its unchanged columns keeps their stored values through COPY", async () => {
  const fixture = readFixture("postgres/default/toast.json");
  const names = await twins("cp_toast", fixture.columns!, fixture.key!);
  const perMessage = batches(fixture, true);
  assert.equal(perMessage.length, 2);
  const update = coalesce(perMessage[1]!.changes).upserts[0]!;
  assert.ok(
    Object.keys(update).length < Object.keys(fixture.columns!).length,
    "the update leaves columns out",
  );
  for (const batch of perMessage) await applyBoth(names, batch);
  const target = await assertTwinsEqual(names, Object.keys(fixture.columns!), fixture.key!);
  assert.deepEqual(sourceDifferences(fixture, target), []);
});

const nasty = [
  "",
  "\t",
  "a\tb\nc\r\nd\re",
  "\\",
  "\\N",
  "\\.",
  "back\\slash\\\\double",
  "quote \" and ' and {braces}, commas",
  "NULL",
  "null",
  "  padded  ",
  "Grüße — 日本語 — 😀👍🏽",
  "\u0001\u0008\u000b\u000c\u007f",
];

test("nasty strings, NULL against empty, arrays and bytes come back as written", async () => {
  const columns = {
    id: "int",
    t: "text",
    v: "varchar(64)",
    ta: "text[]",
    ia: "integer[]",
    b: "bytea",
    ba: "bytea[]",
    j: "jsonb",
  };
  const names = await twins("cp_nasty", columns, ["id"]);
  const of = (kind: ColumnType["kind"], items?: ColumnType): ColumnType => ({ kind, optional: true, items });
  const types: Record<string, ColumnType> = {
    t: of("string"),
    v: of("string"),
    ta: of("array", of("string")),
    ia: of("array", of("int32")),
    b: of("bytes"),
    ba: of("array", of("bytes")),
    j: of("json"),
  };
  const rows: Row[] = nasty.map((s, i) => ({
    id: i + 1,
    t: s,
    v: s,
    ta: [s, null, "", s],
    ia:
      i % 2
        ? [
            [1, 2],
            [3, null],
          ]
        : [],
    b: Buffer.from(s, "utf8"),
    ba: [Buffer.from(s), null, Buffer.alloc(0)],
    j: JSON.stringify({ s, list: [s, null] }),
  }));
  // NULL in every column, and empty values, are different things.
  rows.push({ id: 100, t: null, v: null, ta: null, ia: null, b: null, ba: null, j: null });
  rows.push({ id: 101, t: "", v: "", ta: [], ia: [], b: Buffer.alloc(0), ba: [], j: "null" });
  const changes: MappedChange[] = rows.map((row) => ({ kind: "upsert", keyId: String(row.id), row }));
  await applyBoth(names, { changes, types });
  await assertTwinsEqual(names, Object.keys(columns), ["id"]);
  const { rows: back } = await db.query(`SELECT * FROM ${names[1]!.name} ORDER BY id`);
  const expected = rows.map((r) => ({ ...r, j: r.j === null ? null : JSON.parse(r.j as string) }));
  assert.deepEqual(back, expected);
});

test("production's ids go into a GENERATED ALWAYS identity column on both paths", async () => {
  const columns = { id: "int GENERATED ALWAYS AS IDENTITY", v: "text" };
  const names = await twins("cp_ident", columns, ["id"]);
  const types: Record<string, ColumnType> = {
    id: { kind: "int32", optional: false },
    v: { kind: "string", optional: true },
  };
  const changes: MappedChange[] = [7, 42].map((id) => ({
    kind: "upsert",
    keyId: String(id),
    row: { id, v: `p${id}` },
  }));
  await applyBoth(names, { changes, types });
  for (const name of names) {
    const { rows } = await db.query(`SELECT id, v FROM ${name.name} ORDER BY id`);
    assert.deepEqual(rows, [
      { id: 7, v: "p7" },
      { id: 42, v: "p42" },
    ]);
  }
});

test("a value too long for the shadow's column is refused by both paths, never cut short", async () => {
  const columns = { id: "int", v: "varchar(3)", c: "char(2)", b: "bit(4)", a: "varchar(3)[]" };
  const types: Record<string, ColumnType> = {
    v: { kind: "string", optional: true },
    c: { kind: "string", optional: true },
    b: { kind: "bits", optional: true, length: 4 },
    a: { kind: "array", optional: true, items: { kind: "string", optional: true } },
  };
  const fits: Row = { id: 1, v: "abc", c: "xy", b: "1010", a: ["abc"] };
  const names = await twins("cp_long", columns, ["id"]);
  await applyBoth(names, { changes: [{ kind: "upsert", keyId: "1", row: fits }], types });
  await assertTwinsEqual(names, Object.keys(columns), ["id"]);
  const tooLong: [string, Row[string]][] = [
    ["v", "abcdef"],
    ["c", "xyz"],
    ["b", "10101"],
    ["a", ["abcdef"]],
  ];
  for (const [column, value] of tooLong) {
    const row: Row = { ...fits, id: 2, [column]: value };
    for (const [i, target] of [viaUnnest, viaCopy].entries()) {
      await assert.rejects(
        apply(target, names[i]!, { changes: [{ kind: "upsert", keyId: "2", row }], types }),
        // varchar and char are refused before the write (src/target/fit.ts), bits and arrays by PostgreSQL.
        (error: { code?: string }) => ["22001", "22026", "TARGET_VALUE_ALTERED"].includes(error.code ?? ""),
        `${column} through ${i === 0 ? "unnest" : "COPY"}`,
      );
    }
  }
});

test("staging tables: reused within a transaction, gone after a rollback, per connection", async () => {
  const names = await twins("cp_life", { id: "int", v: "text" }, ["id"]);
  const target = new PostgresTarget(url, undefined, { copyThreshold: 1 });
  const write = async (tx: { write(w: TableWrite): Promise<unknown> }, rows: [number, string][]) => {
    const shape = (await target.describe(names[1]!))!;
    const upserts = rows.map(([id, v]) => ({ id, v }) as Record<string, Value>);
    await tx.write({ table: shape, types: {}, truncate: false, deletes: [], upserts });
  };
  const contents = async () => (await cells(names[1]!, ["id", "v"], ["id"])).map((r) => r.join("="));
  try {
    // The first transaction creates the staging table and rolls back: the table goes with it.
    await assert.rejects(
      target.transaction(async (tx) => {
        await write(tx, [[1, "lost"]]);
        throw new Error("give up");
      }),
      /give up/,
    );
    assert.deepEqual(await contents(), []);
    // Twice in one transaction: the second write must not see the first one's staged rows again.
    await target.transaction(async (tx) => {
      await write(tx, [
        [1, "a"],
        [2, "b"],
      ]);
      await write(tx, [
        [1, "c"],
        [3, "d"],
      ]);
    });
    assert.deepEqual(await contents(), ["1=c", "2=b", "3=d"]);
    // A new connection has no temporary tables: they are created again.
    await target.close();
    await target.transaction((tx) => write(tx, [[2, "e"]]));
    assert.deepEqual(await contents(), ["1=c", "2=e", "3=d"]);
  } finally {
    await target.close();
  }
});
