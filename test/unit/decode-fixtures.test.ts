/**
 * Every message recorded from the real stack (test/fixtures/recorded, by `npm run fixtures:record`)
 * decodes, and applying the decoded changes in order yields the source rows the database returned,
 * cell by cell, in every connector mode.
 */
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { type ChangeEvent, RecordDecoder, type Row, UNCHANGED } from "../../src/decode/index.ts";
import { type Fixture, isJsonFixture, readFixture, recordedDir, toRecord } from "../support/fixtures.ts";
import { compareCell, type Engine, toMillis } from "../support/source-text.ts";

const files = readdirSync(recordedDir, { recursive: true, encoding: "utf8" }).filter(isJsonFixture).sort();

function decodeAll(fixture: Fixture): ChangeEvent[] {
  const decoder = new RecordDecoder({
    binaryHandlingMode:
      fixture.mode === "binary-hex" ? "hex" : fixture.mode === "binary-base64" ? "base64" : "bytes",
  });
  const envelope = fixture.mode === "unwrap-rewrite" ? "flattened" : "debezium";
  return fixture.messages.map((m) => decoder.decode(toRecord(m), envelope));
}

/** The table as the decoded changes leave it: what an apply that keeps unchanged columns builds. */
function replay(events: ChangeEvent[], key: string[]): Map<string, Row> {
  const rows = new Map<string, Row>();
  const id = (row: Row) => key.map((k) => String(row[k])).join("|");
  for (const e of events) {
    if (e.op === "t") rows.clear();
    if (e.op !== "c" && e.op !== "u" && e.op !== "r" && e.op !== "d") continue;
    if (e.op === "d") {
      rows.delete(id({ ...e.before, ...e.key }));
      continue;
    }
    const previous = rows.get(id(e.after!)) ?? {};
    const merged: Row = { ...previous };
    for (const [k, v] of Object.entries(e.after!)) if (v !== UNCHANGED || !(k in previous)) merged[k] = v;
    rows.set(id(e.after!), merged);
  }
  return rows;
}

/**
 * What Debezium 3.5 itself loses or changes, before shadowdb sees a byte (seen in the recordings,
 * see test/fixtures/README.md). The decoder must pass on exactly what was sent; each entry says
 * which source text arrives as which decoded value, and why.
 */
const knownLosses: {
  engine: Engine;
  type: RegExp;
  source: RegExp;
  decoded: (d: string) => boolean;
  why: string;
}[] = [
  {
    engine: "postgres",
    type: /^numeric/,
    source: /^NaN$/,
    decoded: (d) => d === "null",
    why: "NaN has no Decimal form",
  },
  {
    engine: "postgres",
    type: /^numeric\[\]$/,
    source: /NaN/,
    decoded: (d) => d === "null",
    why: "an array with NaN is dropped whole",
  },
  {
    engine: "postgres",
    type: /^xml$/,
    source: /^<\?xml/,
    decoded: (d) => !d.includes("<?xml"),
    why: "the XML declaration is dropped",
  },
  {
    engine: "postgres",
    type: /^(date|timestamp|timestamptz)/,
    source: /^(0001-01-01|4713-01-01)/,
    decoded: (d) => /^"?(0000-12-30|4713-01-01|-4713-11-24)/.test(d),
    why: "dates before the 1582 Gregorian switch go through java.sql's Julian calendar",
  },
  {
    engine: "postgres",
    type: /^money$/,
    source: /92,233,720,368,547,758/,
    decoded: (d) => /9223372036854776|E16/.test(d),
    why: "the snapshot reads money extremes as a double",
  },
  {
    engine: "mariadb",
    type: /^(date|datetime|timestamp)/i,
    source: /^0000-00-00/,
    decoded: (d) => d === "null" || d === '"1970-01-01T00:00:00Z"',
    why: "zero dates become null (streaming TIMESTAMP: the epoch)",
  },
  {
    engine: "mariadb",
    type: /^time/i,
    source: /^(-|8|2[4-9]|[3-9]\d:)/,
    decoded: (d) => d === "null",
    why: "time.precision.mode=connect cannot hold TIME outside 0-24 h",
  },
];

function knownLoss(engine: Engine, type: string, source: string, decoded: string): string | undefined {
  return knownLosses.find(
    (l) => l.engine === engine && l.type.test(type) && l.source.test(source) && l.decoded(decoded),
  )?.why;
}

// Types that connect mode carries in milliseconds (zoned ones stay ISO strings with every digit).
const millisIn: Record<Engine, RegExp> = {
  postgres: /^(time|timestamp)(\(\d\))?$/i,
  mariadb: /^(time|datetime)(\(\d\))?$/i,
};

// Without schemas there are no logical types: only values JSON carries as they are can be compared.
const schemalessComparable = /^(int|integer|smallint|bigint|text|varchar|varchar\(\d+\)|boolean)$/i;

test("fixtures were recorded for both engines and several modes", () => {
  assert.ok(files.some((f) => f.startsWith("postgres/default/")));
  assert.ok(files.some((f) => f.startsWith("mariadb/default/")));
  assert.ok(new Set(files.map((f) => f.split(path.sep).slice(0, 2).join("/"))).size >= 15);
});

for (const file of files) {
  test(`recorded ${file}`, () => {
    const fixture = readFixture(file);
    const events = decodeAll(fixture);
    assert.equal(events.length, fixture.messages.length);
    if (!fixture.sourceRows || !fixture.columns || !fixture.key) return;
    const table = fixture.table.split(".").at(-1);
    const rows = replay(
      events.filter((e) => !("table" in e) || e.table.table === table),
      fixture.key,
    );
    const id = (row: Record<string, unknown>) => fixture.key!.map((k) => String(row[k])).join("|");
    assert.deepEqual([...rows.keys()].sort(), fixture.sourceRows.map(id).sort(), "the same rows exist");
    const mismatches: string[] = [];
    for (const source of fixture.sourceRows) {
      const row = rows.get(id(source))!;
      for (const [column, sqlType] of Object.entries(fixture.columns)) {
        if (fixture.mode === "schemaless" && !schemalessComparable.test(sqlType)) continue;
        if (!(column in row)) continue;
        let text = source[column] ?? null;
        if (text !== null && fixture.mode === "time-connect" && millisIn[fixture.engine].test(sqlType))
          text = toMillis(text);
        const ctx = { engine: fixture.engine, sqlType, mode: fixture.mode };
        const { expected, actual } = compareCell(ctx, text, row[column]!);
        if (expected === actual || knownLoss(fixture.engine, sqlType, expected, actual)) continue;
        mismatches.push(`row ${id(source)} ${column} (${sqlType}): source ${expected}, decoded ${actual}`);
      }
    }
    assert.deepEqual(mismatches, []);
  });
}

test("TOAST: an update that leaves large columns untouched carries the unchanged marker for each", () => {
  const fixture = readFixture("postgres/default/toast.json");
  const updates = decodeAll(fixture).filter((e) => e.op === "u");
  assert.ok(updates.length > 0);
  const unchanged = updates.flatMap((e) =>
    e.op === "u"
      ? Object.entries(e.after!)
          .filter(([, v]) => v === UNCHANGED)
          .map(([k]) => k)
      : [],
  );
  assert.ok(unchanged.length >= 3, `unchanged columns: ${unchanged.join(", ")}`);
});

test("primary-key changes arrive as delete + create carrying the other key in headers", () => {
  for (const engine of ["postgres", "mariadb"]) {
    const fixture = readFixture(`${engine}/default/pk-change.json`);
    const events = decodeAll(fixture);
    const deleted = events.find((e) => e.op === "d" && e.keyChange?.newKey);
    const created = events.find((e) => e.op === "c" && e.keyChange?.oldKey);
    assert.ok(deleted && created, `${engine}: d with newkey and c with oldkey`);
  }
});

test('before: "deletes" decodes only a delete\'s before image; every other field is the same', () => {
  const fixtures = ["mariadb/default/update.json", "mariadb/default/delete.json"].map(readFixture);
  const messages = fixtures.flatMap((f) => f.messages.map(toRecord));
  const all = messages.map((m) => new RecordDecoder().decode(m));
  const needed = new RecordDecoder({ before: "deletes" });
  const some = messages.map((m) => needed.decode(m));
  assert.ok(
    all.some((e) => e.op === "u" && e.before !== null),
    "updates with before",
  );
  assert.ok(
    all.some((e) => e.op === "d" && e.before !== null),
    "deletes with before",
  );
  for (const [i, event] of all.entries()) {
    const expected =
      event.op === "u" || event.op === "c" || event.op === "r" ? { ...event, before: null } : event;
    assert.deepEqual(some[i], expected, `message ${i} (${event.op})`);
  }
});
