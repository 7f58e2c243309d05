/**
 * Every DECODE_* code of the catalogue, each from a real corpus message broken in one way. A
 * DecodeError always carries its code, whether it is retriable (never), and the record's coordinates.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { AvroDecoder, type SchemaRef } from "../../src/decode/avro/index.ts";
import { DecodeError, type KafkaRecord, RecordDecoder } from "../../src/decode/index.ts";
import { type ErrorCode, errorCodes, ShadowdbError } from "../../src/errors.ts";
import { confluentFrame, globalIdHeader, toAvro } from "../support/avro.ts";
import { corpusFile } from "../support/corpus.ts";

const at = { topic: "pgprod.public.payment", partition: 3, offset: "1234" };
const payment = JSON.parse(
  corpusFile("postgres/pg-1.0.1-floodplain-payment-snapshot-last-with-schema.json").toString(),
);

function record(value: unknown, extra: Partial<KafkaRecord> = {}): KafkaRecord {
  const bytes = Buffer.isBuffer(value)
    ? value
    : typeof value === "string"
      ? Buffer.from(value)
      : Buffer.from(JSON.stringify(value));
  return { ...at, key: null, value: bytes, ...extra };
}

function edited(edit: (message: typeof payment) => void): unknown {
  const copy = structuredClone(payment);
  edit(copy);
  return copy;
}

function assertFails(
  code: ErrorCode,
  input: KafkaRecord,
  pattern: RegExp,
  decoder: { decode(record: KafkaRecord): unknown } = new RecordDecoder(),
) {
  assert.throws(
    () => decoder.decode(input),
    (error: unknown) => {
      assert.ok(error instanceof DecodeError, `a DecodeError, got ${String(error)}`);
      assert.equal(error.code, code);
      assert.equal(error.retriable, false);
      assert.deepEqual(error.at, at);
      assert.match(error.message, pattern);
      assert.match(error.message, /pgprod\.public\.payment\[3\]@1234/);
      return true;
    },
  );
}

// The payment message as Avro, DERIVED from its Connect schema (test/support/avro.ts).
const paymentAvro = toAvro(JSON.stringify(payment))!;
const schemas = new Map<number, unknown>([
  [1, paymentAvro.schema],
  [2, { type: "record", name: "R", fields: [{ name: "a", type: ["int", "string"] }] }],
]);

/** An AvroDecoder whose registry has the schemas above, prepared for `input`. */
async function avroDecoder(input: KafkaRecord): Promise<AvroDecoder> {
  const decoder = new AvroDecoder({
    schema: async (ref: SchemaRef) => {
      const schema = schemas.get(ref.id);
      if (schema === undefined) throw new ShadowdbError("DECODE_SCHEMA_NOT_FOUND", `no schema ${ref.id}`);
      return schema;
    },
  });
  await decoder.prepare([input]);
  return decoder;
}

async function assertAvroFails(code: ErrorCode, input: KafkaRecord, pattern: RegExp) {
  assertFails(code, input, pattern, await avroDecoder(input));
}

const cases: Record<string, () => void | Promise<void>> = {
  DECODE_MALFORMED_JSON: () =>
    assertFails("DECODE_MALFORMED_JSON", record('{"schema":{"type":"struct"'), /not valid JSON/),
  DECODE_BAD_ENVELOPE: () => assertFails("DECODE_BAD_ENVELOPE", record("[1,2,3]"), /not an object/),
  DECODE_SCHEMA_MISMATCH: () =>
    assertFails(
      "DECODE_SCHEMA_MISMATCH",
      record(edited((m) => (m.payload.after.customer_id = "two hundred"))),
      /after\.customer_id: expected an integer, got string/,
    ),
  DECODE_BAD_SCHEMA: () =>
    assertFails(
      "DECODE_BAD_SCHEMA",
      record(edited((m) => (m.schema.fields[0].type = "varchar"))),
      /unknown type "varchar"/,
    ),
  DECODE_UNKNOWN_LOGICAL_TYPE: () =>
    assertFails(
      "DECODE_UNKNOWN_LOGICAL_TYPE",
      record(edited((m) => (m.schema.fields[0].fields[4].name = "io.debezium.data.Hyperdecimal"))),
      /io\.debezium\.data\.Hyperdecimal/,
    ),
  DECODE_BAD_VALUE: () =>
    assertFails(
      "DECODE_BAD_VALUE",
      record(edited((m) => (m.payload.after.amount = 2.999))),
      /after\.amount: decimal 2\.999 does not fit scale 2/,
    ),
  DECODE_UNKNOWN_OP: () =>
    assertFails("DECODE_UNKNOWN_OP", record(edited((m) => (m.payload.op = "x"))), /unknown op "x"/),
  DECODE_MISSING_ROW: () =>
    assertFails(
      "DECODE_MISSING_ROW",
      record(edited((m) => (m.payload.after = null))),
      /op 'r' without after/,
    ),
  DECODE_OVERSIZED: () =>
    assertFails(
      "DECODE_OVERSIZED",
      record(payment),
      /bytes, the limit is 100/,
      new RecordDecoder({ maxRecordBytes: 100 }),
    ),
  DECODE_VALUE_TOO_LARGE: () =>
    assertFails(
      "DECODE_VALUE_TOO_LARGE",
      record(edited((m) => (m.payload.after.amount = Buffer.alloc(200_000, 0x11).toString("base64")))),
      /after\.amount: decimal of 266668 base64 characters is beyond any target \(61230 bytes\)/,
    ),
  DECODE_TOO_DEEP: () =>
    assertFails("DECODE_TOO_DEEP", record(`${"[".repeat(65)}${"]".repeat(65)}`), /deeper than 64 levels/),
  DECODE_BAD_UTF8: () =>
    assertFails(
      "DECODE_BAD_UTF8",
      // Latin-1 encoding writes ÿ as the lone byte 0xff, never valid in UTF-8.
      record(Buffer.from(JSON.stringify(payment).replace("ASs=", "AS\u00ff="), "latin1")),
      /the value is not valid UTF-8/,
    ),
  DECODE_ENVELOPE_MISMATCH: () =>
    assertFails(
      "DECODE_ENVELOPE_MISMATCH",
      record({ payment_id: 1, amount: 2.5 }),
      /bare row, not a Debezium envelope.*envelope: flattened/,
    ),
  DECODE_KEY_MISMATCH: () =>
    assertFails(
      "DECODE_KEY_MISMATCH",
      record(payment, { key: Buffer.from('{"payment_id":32099}') }),
      /key's "payment_id" differs from the row's/,
    ),
  DECODE_FORMAT_UNSUPPORTED: () =>
    assertAvroFails(
      "DECODE_FORMAT_UNSUPPORTED",
      record(paymentAvro.bytes, {
        headers: { "apicurio.value.globalId": globalIdHeader(1), "apicurio.value.encoding": "JSON" },
      }),
      /Avro in the JSON encoding/,
    ),
  DECODE_BAD_MAGIC: () =>
    assertAvroFails(
      "DECODE_BAD_MAGIC",
      record(Buffer.concat([Buffer.from([5]), paymentAvro.bytes])),
      /starts with byte 0x05: not a schema registry frame/,
    ),
  DECODE_TRUNCATED_FRAME: () =>
    assertAvroFails("DECODE_TRUNCATED_FRAME", record(Buffer.from([0, 0, 1])), /3 bytes: too short/),
  DECODE_SCHEMA_NOT_FOUND: () =>
    assertAvroFails("DECODE_SCHEMA_NOT_FOUND", record(confluentFrame(99, paymentAvro.bytes)), /no schema 99/),
  DECODE_BAD_REGISTRY_SCHEMA: () =>
    assertAvroFails(
      "DECODE_BAD_REGISTRY_SCHEMA",
      record(confluentFrame(2, Buffer.from([0, 2]))),
      /only \["null", T\] unions/,
    ),
  DECODE_AVRO_MISMATCH: () =>
    assertAvroFails(
      "DECODE_AVRO_MISMATCH",
      record(confluentFrame(1, paymentAvro.bytes.subarray(0, paymentAvro.bytes.length - 3))),
      /ends inside its Avro data/,
    ),
};

for (const code of Object.keys(errorCodes).filter((c) => c.startsWith("DECODE_"))) {
  test(`${code}: ${errorCodes[code as ErrorCode].summary}`, async () => {
    const run = cases[code];
    assert.ok(run, `no test for ${code}`);
    await run();
  });
}

test("a create without after and a delete without key or before are both DECODE_MISSING_ROW", () => {
  assertFails(
    "DECODE_MISSING_ROW",
    record(
      edited((m) => {
        m.payload.op = "d";
        m.payload.after = null;
        m.payload.before = null;
      }),
    ),
    /neither key nor before/,
  );
});

test("a failed record leaves the decoder usable for the next one", () => {
  const decoder = new RecordDecoder();
  assert.throws(() => decoder.decode(record(edited((m) => (m.payload.op = "x")))));
  assert.equal(decoder.decode(record(payment)).op, "r");
});
