/**
 * mask: each strategy on values and column types decoded from messages recorded on the real stack.
 * `hash` is a keyed HMAC: equal inputs give equal outputs (joins and unique keys survive), another
 * key gives other outputs, and the result fits the column it is written to.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import type { MaskRule } from "../../src/config/index.ts";
import {
  type ColumnType,
  RecordDecoder,
  type Row,
  type RowChange,
  UNCHANGED,
  type Value,
} from "../../src/decode/index.ts";
import { mask, REDACTED } from "../../src/map/mask.ts";
import { readFixture, toRecord } from "../support/fixtures.ts";

const key = "a-masking-key-of-32-characters!!";
const otherKey = "another-masking-key-32-characters";

interface Snapshot {
  rows: Row[];
  type: (column: string) => ColumnType;
}

function snapshot(engine: "postgres" | "mariadb"): Snapshot {
  const fixture = readFixture(`${engine}/default/alltypes-snapshot.json`);

  const decoder = new RecordDecoder();
  const events = fixture.messages.map((m) => decoder.decode(toRecord(m)) as RowChange);
  const columns = events[0]!.columns;
  return {
    rows: events.map((e) => e.after!),
    type: (column) => {
      const found = columns.find((c) => c.name === column);
      assert.ok(found, column);
      return found.type;
    },
  };
}

const pg = snapshot("postgres");
const my = snapshot("mariadb");

/** The non-null values a column holds in the recording. */
function values(s: Snapshot, column: string): Value[] {
  const out = s.rows.map((r) => r[column]!).filter((v) => v !== null && v !== undefined);
  assert.ok(out.length >= 2, `${column} has values`);
  return out;
}

const hash: MaskRule = { strategy: "hash" };
const rules: MaskRule[] = [
  hash,
  { strategy: "null" },
  { strategy: "redact" },
  { strategy: "constant", value: "c" },
  { strategy: "constant", value: 7 },
];

test("null and the TOAST marker pass through every strategy", () => {
  for (const rule of rules) {
    for (const column of ["c_text", "c_integer", "c_bigint", "c_bytea", "c_numeric_12_3", "c_uuid"]) {
      assert.equal(mask(null, rule, pg.type(column), key), null, `${rule.strategy} ${column}`);
      assert.equal(mask(UNCHANGED, rule, pg.type(column), key), UNCHANGED, `${rule.strategy} ${column}`);
    }
  }
});

test("hash is deterministic: the same input under the same key gives the same output", () => {
  for (const column of ["c_text", "c_varchar", "c_integer", "c_smallint", "c_bigint", "c_bytea"]) {
    for (const value of values(pg, column)) {
      const once = mask(value, hash, pg.type(column), key);
      const again = mask(
        Buffer.isBuffer(value) ? Buffer.from(value) : value,
        hash,
        structuredClone(pg.type(column)),
        key,
      );
      assert.deepEqual(once, again, column);
      assert.notDeepEqual(once, value, `${column}: the value is not passed in clear`);
    }
  }
});

test("hash is keyed: another key gives other outputs; other inputs give other outputs", () => {
  for (const column of ["c_text", "c_integer", "c_bigint", "c_bytea"]) {
    const vs = values(pg, column);
    for (const value of vs) {
      assert.notDeepEqual(
        mask(value, hash, pg.type(column), key),
        mask(value, hash, pg.type(column), otherKey),
        column,
      );
    }
    const distinct = new Set(vs.map((v) => (Buffer.isBuffer(v) ? v.toString("hex") : String(v))));
    const hashed = new Set(
      vs.map((v) => {
        const h = mask(v, hash, pg.type(column), key);
        return Buffer.isBuffer(h) ? h.toString("hex") : String(h);
      }),
    );
    assert.equal(hashed.size, distinct.size, `${column}: distinct values stay distinct`);
  }
});

test("hash fits integer columns: int16/int32 stay non-negative numbers in range, int64 a bigint", () => {
  const ranges: [Snapshot, string, "number" | "bigint", bigint][] = [
    [pg, "c_smallint", "number", 2n ** 15n - 1n],
    [pg, "c_integer", "number", 2n ** 31n - 1n],
    [pg, "c_bigint", "bigint", 2n ** 63n - 1n],
    [my, "c_int", "number", 2n ** 31n - 1n],
    [my, "c_bigint", "bigint", 2n ** 63n - 1n],
  ];
  for (const [s, column, jsType, max] of ranges) {
    for (const value of values(s, column)) {
      const h = mask(value, hash, s.type(column), key);
      assert.equal(typeof h, jsType, column);
      if (typeof h === "number") assert.ok(Number.isInteger(h), column);
      const n = BigInt(h as number | bigint);
      assert.ok(n >= 0n && n <= max, `${column}: ${n}`);
    }
  }
  // int8 (Connect INT8): within a signed byte.
  const int8: ColumnType = { ...pg.type("c_smallint"), kind: "int8" };
  for (const v of [0, 1, -128, 127]) {
    const h = mask(v, hash, int8, key) as number;
    assert.ok(Number.isInteger(h) && h >= 0 && h <= 127, String(h));
  }
});

test("property: hash keeps any int32 an int32, any int64 an int64, any bytes bytes", () => {
  const int32 = pg.type("c_integer");
  const int64 = pg.type("c_bigint");
  const bytes = pg.type("c_bytea");
  fc.assert(
    fc.property(
      fc.integer(),
      fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
      fc.uint8Array({ maxLength: 64 }),
      (i, b, raw) => {
        const hi = mask(i, hash, int32, key);
        assert.ok(typeof hi === "number" && Number.isInteger(hi) && hi >= 0 && hi <= 2 ** 31 - 1);
        const hb = mask(b, hash, int64, key);
        assert.ok(typeof hb === "bigint" && hb >= 0n && hb <= 2n ** 63n - 1n);
        const hbytes = mask(Buffer.from(raw), hash, bytes, key);
        assert.ok(Buffer.isBuffer(hbytes) && hbytes.length > 0);
        assert.deepEqual(mask(Buffer.from(raw), hash, bytes, key), hbytes);
      },
    ),
  );
});

test("hash keeps bytes bytes and text text", () => {
  for (const [s, column] of [
    [pg, "c_bytea"],
    [my, "c_varbinary"],
    [my, "c_blob"],
  ] as const) {
    for (const value of values(s, column)) assert.ok(Buffer.isBuffer(mask(value, hash, s.type(column), key)));
  }
  for (const [s, column] of [
    [pg, "c_text"],
    [pg, "c_varchar"],
    [my, "c_text"],
    [my, "c_varchar"],
  ] as const) {
    for (const value of values(s, column)) {
      assert.match(String(mask(value, hash, s.type(column), key)), /^[0-9a-f]{64}$/);
      assert.equal(typeof mask(value, hash, s.type(column), key), "string");
    }
  }
  // Without a type (schemaless topics) the hash is text.
  assert.match(String(mask("secret", hash, undefined, key)), /^[0-9a-f]{64}$/);
});

test("hash fits decimal columns: digits within the column's precision and scale", () => {
  // "A hash that fits the column: digits for numbers" (src/map/mask.ts).
  for (const [s, column] of [
    [pg, "c_numeric_12_3"],
    [my, "c_decimal_12_3"],
  ] as const) {
    const type = s.type(column);
    assert.equal(type.precision, 12);
    assert.equal(type.scale, 3);
    for (const value of values(s, column)) {
      const h = mask(value, hash, type, key);
      assert.equal(typeof h, "string", column);
      assert.match(String(h), /^-?\d{1,9}(\.\d{1,3})?$/, `${column}: ${String(h)} fits numeric(12,3)`);
    }
  }
  const variable = pg.type("c_numeric");
  for (const value of values(pg, "c_numeric"))
    assert.match(String(mask(value, hash, variable, key)), /^-?\d+(\.\d+)?$/);
});

test("hash fits uuid columns: a uuid", () => {
  const type = pg.type("c_uuid");
  const seen = new Set<string>();
  for (const value of values(pg, "c_uuid")) {
    const h = String(mask(value, hash, type, key));
    assert.match(h, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/, h);
    assert.notEqual(h, value);
    seen.add(h);
  }
  assert.equal(seen.size, values(pg, "c_uuid").length);
});

test("hash without a masking key is refused", () => {
  assert.throws(() => mask("x", hash, pg.type("c_text"), undefined), /masking\.key/);
});

test("null: every value becomes null", () => {
  for (const column of ["c_text", "c_integer", "c_bigint", "c_bytea", "c_uuid", "c_jsonb", "c_timestamptz"])
    for (const value of values(pg, column))
      assert.equal(mask(value, { strategy: "null" }, pg.type(column), key), null);
});

test("redact: the fixed text, as bytes for binary columns", () => {
  assert.equal(REDACTED, "[redacted]");
  for (const value of values(pg, "c_text"))
    assert.equal(mask(value, { strategy: "redact" }, pg.type("c_text"), key), REDACTED);
  for (const value of values(pg, "c_bytea"))
    assert.deepEqual(mask(value, { strategy: "redact" }, pg.type("c_bytea"), key), Buffer.from(REDACTED));
  for (const value of values(my, "c_blob"))
    assert.deepEqual(mask(value, { strategy: "redact" }, my.type("c_blob"), key), Buffer.from(REDACTED));
  // No key needed.
  assert.equal(mask("x", { strategy: "redact" }, pg.type("c_text"), undefined), REDACTED);
  assert.equal(mask("x", { strategy: "redact" }, undefined, undefined), REDACTED);
});

test("constant: the configured value, whatever the input", () => {
  for (const constant of ["anonymous", 0, 42, true, false]) {
    for (const value of values(pg, "c_varchar"))
      assert.equal(
        mask(value, { strategy: "constant", value: constant }, pg.type("c_varchar"), undefined),
        constant,
      );
  }
});
