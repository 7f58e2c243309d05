/**
 * Hostile input, one case at a time: each is refused early with its DECODE_* code (never another
 * exception, never a row), the largest values a target can hold still decode, and error
 * messages quote record text bounded and escaped.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { DecodeError, type KafkaRecord, RecordDecoder, type RowChange } from "../../src/decode/index.ts";
import { MAX_FRACTION_DIGITS, MAX_INTEGER_DIGITS, preview } from "../../src/decode/limits.ts";
import type { ErrorCode } from "../../src/errors.ts";
import { base, baseValue, edited, fieldSchema, unscaledBase64, withValue } from "../support/hostile.ts";

function refused(
  record: KafkaRecord,
  code: ErrorCode,
  pattern?: RegExp,
  envelope?: "flattened",
): DecodeError {
  const decoder = new RecordDecoder();
  const started = performance.now();
  let caught: unknown;
  try {
    decoder.decode(record, envelope);
  } catch (error) {
    caught = error;
  }
  const ms = performance.now() - started;
  assert.ok(caught instanceof DecodeError, `a DecodeError, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  if (pattern) assert.match(caught.message, pattern);
  assert.ok(caught.message.length < 1200, `a bounded message, got ${caught.message.length} characters`);
  assert.ok(ms < 500, `refused in ${ms.toFixed(0)} ms`);
  return caught;
}

function decoded(record: KafkaRecord): RowChange {
  return new RecordDecoder().decode(record) as RowChange;
}

test("the recorded base record decodes (every edit below breaks it in one place)", () => {
  const event = decoded(base);
  assert.equal(event.after!.id, 2);
  assert.equal(typeof event.after!.c_numeric_12_3, "string");
});

test("a 200,000-byte Decimal is refused by its length, before any BigInt work", () => {
  const huge = Buffer.alloc(200_000, 0x7f).toString("base64");
  refused(
    edited((v) => (v.payload.after.c_numeric_12_3 = huge)),
    "DECODE_VALUE_TOO_LARGE",
    /c_numeric_12_3: decimal of 266668 base64 characters/,
  );
});

test("a Decimal schema with scale 500,000,000 is refused without sizing anything", () => {
  const before = process.memoryUsage().heapUsed;
  refused(
    edited((v) => (fieldSchema(v, "c_numeric_12_3").parameters.scale = "500000000")),
    "DECODE_VALUE_TOO_LARGE",
    /decimal scale 500000000 is beyond any target/,
  );
  assert.ok(process.memoryUsage().heapUsed - before < 64 * 1024 * 1024);
  refused(
    edited((v) => (fieldSchema(v, "c_numeric_12_3").parameters.scale = "2.5")),
    "DECODE_BAD_VALUE",
    /scale 2\.5 is not an integer/,
  );
});

test("VariableScaleDecimal: its scale and its value's size are checked before conversion", () => {
  refused(
    edited((v) => (v.payload.after.c_numeric = { scale: 500_000_000, value: "AQ==" })),
    "DECODE_VALUE_TOO_LARGE",
    /c_numeric\.scale: decimal scale 500000000/,
  );
  refused(
    edited((v) => (v.payload.after.c_numeric = { scale: -200_000, value: "AQ==" })),
    "DECODE_VALUE_TOO_LARGE",
  );
  refused(
    edited(
      (v) => (v.payload.after.c_numeric = { scale: 0, value: Buffer.alloc(70_000, 1).toString("base64") }),
    ),
    "DECODE_VALUE_TOO_LARGE",
  );
});

test("the largest decimals PostgreSQL holds still decode, exactly", () => {
  const integer = 10n ** BigInt(MAX_INTEGER_DIGITS) - 1n;
  const event = decoded(
    edited((v) => (v.payload.after.c_numeric = { scale: 0, value: unscaledBase64(-integer) })),
  );
  assert.equal(event.after!.c_numeric, `-${"9".repeat(MAX_INTEGER_DIGITS)}`);
  const both = 10n ** BigInt(MAX_INTEGER_DIGITS + MAX_FRACTION_DIGITS) - 1n;
  const widest = decoded(
    edited((v) => (v.payload.after.c_numeric = { scale: MAX_FRACTION_DIGITS, value: unscaledBase64(both) })),
  );
  assert.equal(
    widest.after!.c_numeric,
    `${"9".repeat(MAX_INTEGER_DIGITS)}.${"9".repeat(MAX_FRACTION_DIGITS)}`,
  );
  // One digit more before the point is too many, whatever the byte length allows.
  refused(
    edited((v) => (v.payload.after.c_numeric = { scale: 0, value: unscaledBase64(integer + 1n) })),
    "DECODE_VALUE_TOO_LARGE",
    /131073 digits before the point/,
  );
});

test("a record's decimals together may not pass the per-record digit budget", () => {
  // Two of these (130,001 digits each) fit the budget; the third is refused before conversion.
  const big = { scale: 0, value: unscaledBase64(10n ** 130_000n) };
  const two = decoded(edited((v) => (v.payload.after.c_numeric_array = [big, big])));
  assert.equal((two.after!.c_numeric_array as string[])[1], `1${"0".repeat(130_000)}`);
  refused(
    edited((v) => (v.payload.after.c_numeric_array = [big, big, big])),
    "DECODE_VALUE_TOO_LARGE",
    /c_numeric_array\[2\]: the record's decimals pass 262144 digits in all/,
  );
});

test("invalid base64 is refused, never decoded around its bad characters", () => {
  // Buffer.from("AS!s=", "base64") skips the "!" and yields some other number.
  refused(
    edited((v) => (v.payload.after.c_numeric_12_3 = "AAAAAAAA!AAAAA==")),
    "DECODE_BAD_VALUE",
    /c_numeric_12_3: not valid base64/,
  );
  refused(
    edited((v) => (v.payload.after.c_numeric_12_3 = "AB=A")),
    "DECODE_BAD_VALUE",
    /not valid base64/,
  );
  refused(
    edited((v) => (v.payload.after.c_numeric = { scale: 2, value: "////////////////x" })),
    "DECODE_BAD_VALUE",
  );
  refused(
    edited((v) => (v.payload.after.c_bytea = "aGVsbG8*")),
    "DECODE_BAD_VALUE",
    /c_bytea: not valid base64/,
  );
  // Non-canonical: the padding's bits below the last byte are not 0.
  refused(
    edited((v) => (v.payload.after.c_numeric_12_3 = "AB==")),
    "DECODE_BAD_VALUE",
  );
});

test("Decimal as a JSON number: an exponent of 1e999999999 is refused, not expanded", () => {
  const record = edited((v) => (v.payload.after.c_numeric_12_3 = 0));
  const text = record.value!.toString().replace('"c_numeric_12_3":0', '"c_numeric_12_3":1e999999999');
  refused(withValue(text), "DECODE_VALUE_TOO_LARGE", /digits before the point/);
  const tiny = record.value!.toString().replace('"c_numeric_12_3":0', '"c_numeric_12_3":1e-999999999');
  refused(withValue(tiny), "DECODE_BAD_VALUE", /does not fit scale 3/);
});

test("a bit string longer than PostgreSQL's 83886080 bits is refused", () => {
  refused(
    edited((v) => (fieldSchema(v, "c_bit8").parameters.length = "2000000000")),
    "DECODE_VALUE_TOO_LARGE",
    /2000000000 bits/,
  );
});

test("nesting past 64 levels is refused before JSON.parse, in the payload or the schema", () => {
  const deep = (n: number) => `${"[".repeat(n)}${"]".repeat(n)}`;
  refused(withValue(deep(1_000_000)), "DECODE_TOO_DEEP");
  // Not nesting: a string full of brackets is text.
  const text = edited((v) => (v.payload.after.c_text = "[".repeat(5000))).value!;
  assert.equal(decoded(withValue(text)).after!.c_text, "[".repeat(5000));
  const payload = base.value!.toString().replace('"c_text":', `"c_text_deep":${deep(80)},"c_text":`);
  refused(withValue(payload), "DECODE_TOO_DEEP");
});

test("invalid UTF-8 in the key, the value or a key header is refused, not stored as U+FFFD", () => {
  const bad = Buffer.from(base.value!.toString().replace('"c_text":"', '"c_text":"\u00ff'), "latin1");
  refused(withValue(bad), "DECODE_BAD_UTF8", /value is not valid UTF-8/);
  const badKey = Buffer.concat([Buffer.from('{"id":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}')]);
  refused({ ...base, key: badKey }, "DECODE_BAD_UTF8", /key is not valid UTF-8/);
  refused(
    { ...base, headers: { "__debezium.oldkey": Buffer.from([0x7b, 0xed, 0xa0, 0x80, 0x7d]) } },
    "DECODE_BAD_UTF8",
    /key header/,
  );
});

test("a bare JSON object, schemaless or with a schema, is not a row unless the topic says flattened", () => {
  refused(withValue('{"id": 2, "c_text": "x"}'), "DECODE_ENVELOPE_MISMATCH", /bare row/);
  const withSchema = JSON.stringify({
    schema: { type: "struct", optional: false, fields: [{ type: "int32", optional: false, field: "id" }] },
    payload: { id: 2 },
  });
  refused(withValue(withSchema), "DECODE_ENVELOPE_MISMATCH");
  const event = new RecordDecoder().decode(withValue(withSchema), "flattened") as RowChange;
  assert.deepEqual(event.after, { id: 2 });
  refused(base, "DECODE_ENVELOPE_MISMATCH", /says `envelope: flattened`/, "flattened");
});

test("a message key that disagrees with its row is refused; key fields the row lacks are not compared", () => {
  refused({ ...base, key: Buffer.from('{"id":3}') }, "DECODE_KEY_MISMATCH", /key's "id" differs/);
  // A topic router adds its table identifier to the key; the row has no such column.
  assert.equal(
    decoded({ ...base, key: Buffer.from('{"id":2,"__dbz__physicalTableIdentifier":"x"}') }).op,
    "c",
  );
  // A delete compares with before.
  const del = edited((v) => {
    v.payload.op = "d";
    v.payload.before = v.payload.after;
    v.payload.after = null;
  });
  refused({ ...del, key: Buffer.from('{"id":9}') }, "DECODE_KEY_MISMATCH");
  assert.equal(decoded({ ...del, key: Buffer.from('{"id":2}') }).op, "d");
});

test("column names no target can have are refused; injection-shaped ones are just names", () => {
  refused(
    edited((v) => (fieldSchema(v, "c_text").field = "c\u0000text")),
    "DECODE_BAD_SCHEMA",
    /field name "c\\\\u0000text" holds a control character/,
  );
  refused(
    edited((v) => (fieldSchema(v, "c_text").field = "c".repeat(65))),
    "DECODE_BAD_SCHEMA",
    /longer than 64/,
  );
  refused(
    withValue('{"op":"c","source":{},"after":{"a\\u0001":1}}'),
    "DECODE_BAD_VALUE",
    /control character/,
  );
  const name = 'a"; DROP TABLE x; --';
  const event = decoded(
    edited((v) => {
      fieldSchema(v, "c_text").field = name;
      v.payload.after[name] = v.payload.after.c_text;
    }),
  );
  assert.equal(event.after![name], baseValue.payload.after.c_text);
  assert.ok(event.columns.some((c) => c.name === name));
});

test("a 5 MB text value decodes in bounded time; a 5 MB timestamp is refused with a short message", () => {
  const long = "x".repeat(5 * 1024 * 1024);
  const started = performance.now();
  assert.equal(
    (decoded(edited((v) => (v.payload.after.c_text = long))).after!.c_text as string).length,
    long.length,
  );
  assert.ok(performance.now() - started < 1000);
  const error = refused(
    edited((v) => (v.payload.after.c_timestamptz = `${"9".repeat(5 * 1024 * 1024)}\u0000`)),
    "DECODE_BAD_VALUE",
    /not an ISO-8601 timestamp with offset: 9{60}… \(5242821 more characters\)/,
  );
  assert.ok(!error.message.includes("\u0000"));
});

test("an unknown op or malformed JSON is quoted bounded and escaped", () => {
  refused(
    edited((v) => (v.payload.op = `x\u0000${"y".repeat(10_000)}`)),
    "DECODE_UNKNOWN_OP",
    /unknown op "x\\u0000y+… \(\d+ more characters\)/,
  );
  const error = refused(withValue(`{"a":\u0000${"z".repeat(100_000)}}`), "DECODE_MALFORMED_JSON");
  assert.ok(!error.message.includes("\u0000"));
});

test("preview: at most the given characters, control characters and lone surrogates escaped", () => {
  assert.equal(preview("a\u0000b\nc\u2028"), "a\\u0000b\\u000ac\\u2028");
  assert.equal(preview("\ud800x\udc00"), "\\ud800x\\udc00");
  assert.equal(preview("\ud83d\ude00"), "\ud83d\ude00");
  assert.equal(preview("abcdef", 3), "abc… (3 more characters)");
});

test("an int64's digits come from its own member, not from a longer key ending in an escaped quote", () => {
  // JSON.parse reads both as 9007199254740992; the exact digits are looked up in the text.
  const text = base.value!.toString();
  const forged = text.replace(
    '"c_bigint":9007199254740993',
    '"x\\"c_bigint":9007199254740992,"c_bigint":9007199254740993',
  );
  assert.ok(forged !== text, "the recorded value has c_bigint 9007199254740993");
  assert.equal(decoded(withValue(forged)).after!.c_bigint, 9007199254740993n);
});

test("int64 digits of a schemaless record with 100,000 big members are found in one pass", () => {
  const members = Array.from({ length: 100_000 }, (_, i) => `"m${i}":${9007199254740993n + BigInt(i)}`);
  const value = `{"op":"c","source":{},"after":{"id":2,${members.join(",")}}}`;
  const started = performance.now();
  const event = new RecordDecoder().decode({ ...base, key: null, value: Buffer.from(value) }) as RowChange;
  const ms = performance.now() - started;
  assert.equal(event.after!.m99999, 9007199254740993n + 99_999n);
  assert.ok(ms < 2000, `${ms.toFixed(0)} ms`);
});

test("a primary-key change header counts toward decode.maxRecordBytes", () => {
  const limit = base.key!.length + base.value!.length + 100;
  const decoder = new RecordDecoder({ maxRecordBytes: limit });
  assert.equal(decoder.decode(base).op, "c");
  const header = Buffer.from(`{"id":2,"pad":"${"x".repeat(200)}"}`);
  assert.throws(() => decoder.decode({ ...base, headers: { "__debezium.oldkey": header } }), {
    code: "DECODE_OVERSIZED",
  });
});
