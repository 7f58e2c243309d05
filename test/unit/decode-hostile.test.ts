/**
 * Hostile records mixed with valid ones (fast-check): every hostile record is refused with the
 * DECODE_* code its kind calls for (never another exception, never a row), every valid one
 * decodes, each within a bounded time, and no error message carries a raw control character or
 * more than a bounded amount of the record's text.
 */
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { test } from "node:test";
import fc from "fast-check";
import type { Envelope } from "../../src/decode/decoder.ts";
import { DecodeError, type KafkaRecord, RecordDecoder, type RowChange } from "../../src/decode/index.ts";
import type { ErrorCode } from "../../src/errors.ts";
import { readFixture, recordedDir, tableRecords } from "../support/fixtures.ts";
import { base, edited, fieldSchema, type Message, withValue } from "../support/hostile.ts";

interface Case {
  kind: string;
  record: KafkaRecord;
  envelope?: Envelope;
  /** The code a hostile record must be refused with; undefined for a valid record. */
  code?: ErrorCode;
  /** A valid record's check of what it decoded to. */
  check?: (event: RowChange) => void;
}

// ---------------------------------------------------------------------------------------------
// Valid records: everything recorded from the real stack in the modes the default decoder reads.

const validModes = ["default", "decimal-string", "interval-string", "schemaless", "unwrap-rewrite"];
const valid: Case[] = [];
for (const engine of ["postgres", "mariadb"]) {
  for (const mode of validModes) {
    let files: string[];
    try {
      files = readdirSync(`${recordedDir}/${engine}/${mode}`);
    } catch {
      continue;
    }
    for (const file of files) {
      const fixture = readFixture(`${engine}/${mode}/${file}`);
      const envelope = mode === "unwrap-rewrite" ? "flattened" : "debezium";
      for (const record of tableRecords(fixture))
        valid.push({ kind: `recorded ${engine}/${mode}`, record, envelope });
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Hostile records, each kind with the code it must get.

const base64Bytes = (min: number, max: number) =>
  fc.uint8Array({ minLength: min, maxLength: max }).map((b) => Buffer.from(b).toString("base64"));

/** Characters Buffer.from(…, "base64") skips or reads as another alphabet's. */
const notBase64 = fc.constantFrom("!", "*", "#", " ", "\n", ".", "-", "_", "~", "é", "\u0000");

const injectionNames = [
  'a"; DROP TABLE x; --',
  "a`; DROP TABLE x; --",
  "x'); DELETE FROM t; --",
  "$1",
  "é\u200b",
];

const controlName = fc
  .tuple(fc.string({ maxLength: 10 }), fc.constantFrom("\u0000", "\u0001", "\n", "\u001f", "\u007f"))
  .map(([s, c]) => `${s}${c}${s}`);

/** Byte sequences that are never valid UTF-8, wherever they are inserted. */
const badUtf8 = fc.constantFrom(
  [0xff],
  [0xfe],
  [0xc0, 0xaf],
  [0xed, 0xa0, 0x80],
  [0xf4, 0x90, 0x80, 0x80],
  [0x80],
  [0xc3],
);

function insertAt(bytes: Buffer, at: number, inserted: readonly number[]): Buffer {
  const i = at % (bytes.length + 1);
  return Buffer.concat([bytes.subarray(0, i), Buffer.from(inserted), bytes.subarray(i)]);
}

/** Offsets of base's value that start a character (no UTF-8 continuation byte there). */
const boundaries = [...base.value!.keys()].filter((i) => (base.value![i]! & 0xc0) !== 0x80);

function nested(depth: number, object: boolean): string {
  return object
    ? `${'{"a":'.repeat(depth)}1${"}".repeat(depth)}`
    : `${"[".repeat(depth)}${"]".repeat(depth)}`;
}

/** A bare JSON object: none of the members that make a value an envelope or a control record. */
const reserved = new Set(["op", "source", "status", "ddl", "databaseName", "schema", "payload", "__proto__"]);
const bareObject = fc.dictionary(
  fc.string({ maxLength: 20 }).filter((k) => !reserved.has(k)),
  fc.jsonValue({ maxDepth: 4 }),
  { maxKeys: 8 },
);

const hostile: fc.Arbitrary<Case>[] = [
  // Between characters: inside a multi-byte one, the value would be invalid UTF-8 first.
  fc.constantFrom(...boundaries).map((at) => ({
    kind: "raw NUL byte",
    record: withValue(insertAt(base.value!, at, [0])),
    code: "DECODE_MALFORMED_JSON" as const,
  })),
  base64Bytes(61_231, 300_000).map((huge) => ({
    kind: "Decimal past 61230 bytes",
    record: edited((v) => (v.payload.after.c_numeric_12_3 = huge)),
    code: "DECODE_VALUE_TOO_LARGE" as const,
  })),
  fc
    .oneof(
      fc.integer({ min: 16_384, max: 2_000_000_000 }),
      fc.integer({ min: -2_000_000_000, max: -131_073 }),
    )
    .map((scale) => ({
      kind: "Decimal schema scale beyond any target",
      record: edited((v) => (fieldSchema(v, "c_numeric_12_3").parameters.scale = String(scale))),
      code: "DECODE_VALUE_TOO_LARGE" as const,
    })),
  fc
    .tuple(
      fc.oneof(
        fc.integer({ min: 16_384, max: 2_000_000_000 }),
        fc.integer({ min: -2_000_000_000, max: -131_073 }),
      ),
      base64Bytes(1, 8),
    )
    .map(([scale, value]) => ({
      kind: "VariableScaleDecimal scale beyond any target",
      record: edited((v) => (v.payload.after.c_numeric = { scale, value })),
      code: "DECODE_VALUE_TOO_LARGE" as const,
    })),
  fc
    .tuple(fc.integer({ min: 65, max: 200_000 }), fc.boolean(), fc.boolean())
    .map(([depth, object, whole]) => ({
      kind: "nesting past 64 levels",
      record: whole
        ? withValue(nested(depth, object))
        : withValue(
            base.value!.toString().replace('"c_text":', `"c_deep":${nested(depth, object)},"c_text":`),
          ),
      code: "DECODE_TOO_DEEP" as const,
    })),
  bareObject.map((object) => ({
    kind: "bare JSON object",
    record: withValue(JSON.stringify(object)),
    code: "DECODE_ENVELOPE_MISMATCH" as const,
  })),
  fc
    .tuple(fc.constantFrom("c_numeric_12_3", "c_bytea"), base64Bytes(1, 64), notBase64, fc.nat())
    .map(([column, text, bad, at]) => {
      const i = at % (text.length + 1);
      return {
        kind: "invalid base64",
        record: edited((v) => (v.payload.after[column] = `${text.slice(0, i)}${bad}${text.slice(i)}`)),
        code: "DECODE_BAD_VALUE" as const,
      };
    }),
  fc
    .tuple(
      fc.integer({ min: -2_147_483_648, max: 2_147_483_647 }).filter((id) => id !== 2),
      fc.constantFrom("c", "u", "r", "d"),
    )
    .map(([id, op]) => ({
      kind: "key disagrees with row",
      record: edited(
        (v: Message) => {
          v.payload.op = op;
          if (op === "d") {
            v.payload.before = v.payload.after;
            v.payload.after = null;
          }
        },
        { ...JSON.parse(base.key!.toString()), payload: { id } },
      ),
      code: "DECODE_KEY_MISMATCH" as const,
    })),
  fc.tuple(badUtf8, fc.nat(), fc.boolean()).map(([bytes, at, inKey]) => ({
    kind: "invalid UTF-8",
    record: inKey
      ? { ...base, key: insertAt(base.key!, at, bytes) }
      : withValue(insertAt(base.value!, at, bytes)),
    code: "DECODE_BAD_UTF8" as const,
  })),
  fc.tuple(controlName, fc.boolean()).map(([name, schemaless]) => ({
    kind: "column name with a control character",
    record: schemaless
      ? withValue(JSON.stringify({ op: "c", source: {}, after: { id: 2, [name]: 1 } }), null)
      : edited((v) => {
          fieldSchema(v, "c_text").field = name;
          v.payload.after[name] = "x";
        }),
    code: schemaless ? ("DECODE_BAD_VALUE" as const) : ("DECODE_BAD_SCHEMA" as const),
  })),
];

/** 5 MB and more: few of them, each costs a parse of megabytes. */
const huge: fc.Arbitrary<Case>[] = [
  fc.integer({ min: 5 * 1024 * 1024, max: 6 * 1024 * 1024 }).map((length) => ({
    kind: "5 MB+ string as a ZonedTimestamp",
    record: edited((v) => (v.payload.after.c_timestamptz = `2020-01-01T00:00:00${"9".repeat(length)}Z`)),
    code: "DECODE_BAD_VALUE" as const,
  })),
  fc.integer({ min: 5 * 1024 * 1024, max: 6 * 1024 * 1024 }).map((length) => ({
    kind: "5 MB+ string as a Decimal",
    record: edited((v) => (v.payload.after.c_numeric_12_3 = "A".repeat(length - (length % 4)))),
    code: "DECODE_VALUE_TOO_LARGE" as const,
  })),
];

/** Valid edits: injection-shaped names are names; a text column may hold 5 MB. */
const validEdits: fc.Arbitrary<Case>[] = [
  fc.constantFrom(...injectionNames).map((name) => ({
    kind: "injection-shaped column name",
    record: edited((v) => {
      fieldSchema(v, "c_text").field = name;
      v.payload.after[name] = v.payload.after.c_text;
    }),
    check: (event: RowChange) => assert.equal(typeof event.after![name], "string"),
  })),
  fc.integer({ min: 5 * 1024 * 1024, max: 6 * 1024 * 1024 }).map((length) => ({
    kind: "5 MB+ text",
    record: edited((v) => (v.payload.after.c_text = `\u0000${"x".repeat(length)}`)),
    check: (event: RowChange) => assert.equal((event.after!.c_text as string).length, length + 1),
  })),
];

const cases: fc.Arbitrary<Case> = fc.oneof(
  { arbitrary: fc.constantFrom(...valid), weight: 30 },
  ...hostile.map((arbitrary) => ({ arbitrary, weight: 6 })),
  ...huge.map((arbitrary) => ({ arbitrary, weight: 1 })),
  { arbitrary: validEdits[0]!, weight: 3 },
  { arbitrary: validEdits[1]!, weight: 1 },
);

/** Generous for a shared 2-core machine; the slowest case is reported below. */
const BOUND_MS = 1500;

test("hostile records are refused with their DECODE_* code, valid ones decode, each in bounded time", (t) => {
  const decoder = new RecordDecoder();
  const counts = new Map<string, number>();
  let hostileCount = 0;
  let slowest = { ms: 0, kind: "" };
  fc.assert(
    fc.property(cases, (c) => {
      counts.set(c.kind, (counts.get(c.kind) ?? 0) + 1);
      const started = performance.now();
      let event: unknown;
      let caught: unknown;
      try {
        event = decoder.decode(c.record, c.envelope);
      } catch (error) {
        caught = error;
      }
      const ms = performance.now() - started;
      if (ms > slowest.ms) slowest = { ms, kind: c.kind };
      assert.ok(ms < BOUND_MS, `${c.kind}: ${ms.toFixed(0)} ms`);
      if (c.code === undefined) {
        assert.equal(caught, undefined, `${c.kind}: ${String(caught)}`);
        assert.ok((event as RowChange).op);
        c.check?.(event as RowChange);
        return;
      }
      hostileCount++;
      assert.equal(event, undefined, `${c.kind}: decoded to a row`);
      assert.ok(caught instanceof DecodeError, `${c.kind}: ${String(caught)}`);
      assert.equal(caught.code, c.code, `${c.kind}: ${caught.message}`);
      assert.equal(caught.retriable, false);
      assert.deepEqual(caught.at, {
        topic: c.record.topic,
        partition: c.record.partition,
        offset: c.record.offset,
      });
      assert.ok(caught.message.length <= 1100, `${c.kind}: a message of ${caught.message.length} characters`);
      // biome-ignore lint/suspicious/noControlCharactersInRegex: none may reach a log line.
      assert.doesNotMatch(caught.message, /[\u0000-\u001f]/);
    }),
    { numRuns: 1800 },
  );
  assert.ok(hostileCount >= 1000, `${hostileCount} hostile records`);
  for (const kind of [
    "raw NUL byte",
    "invalid UTF-8",
    "key disagrees with row",
    "5 MB+ string as a Decimal",
    "injection-shaped column name",
  ]) {
    assert.ok((counts.get(kind) ?? 0) > 0, `no ${kind} generated`);
  }
  t.diagnostic(`hostile: ${hostileCount}; slowest: ${slowest.kind}, ${slowest.ms.toFixed(0)} ms`);
});
