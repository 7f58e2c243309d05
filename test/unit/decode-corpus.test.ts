/** Every real message of test/fixtures/corpus decodes, and the worked values come out exact. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { RecordDecoder, type RowChange, UNCHANGED } from "../../src/decode/index.ts";
import { corpusFile, corpusMessages } from "../support/corpus.ts";

const decoder = new RecordDecoder();
/** The corpus's smt/ folder holds ExtractNewRecordState output: its topics are configured so. */
const envelopeOf = (file: string) => (file.startsWith("smt/") ? "flattened" : "debezium");
const decode = (file: string, topic = "") =>
  decoder.decode({ topic, partition: 0, offset: "0", key: null, value: corpusFile(file) }, envelopeOf(file));
const row = (file: string) => decode(file) as RowChange;

/** Flink CDC's expected-output file: a bare object around two envelopes, not a message. */
const WRAPPER = "mysql/mysql-flinkcdc-alltypes-expected-schemaless-base64-decimal.json";

test("every corpus message decodes to a typed event; message keys decode as keys", () => {
  const messages = corpusMessages();
  assert.ok(messages.length >= 45);
  let keys = 0;
  for (const m of messages) {
    if (m.file === WRAPPER) continue;
    const base = { topic: "", partition: 0, offset: "0" };
    if (m.file.includes("-key-")) {
      const event = decoder.decode({ ...base, key: m.value, value: null });
      assert.ok(event.op === "tombstone" && event.key && Object.keys(event.key).length > 0, m.file);
      keys++;
      continue;
    }
    const event = decoder.decode({ ...base, key: null, value: m.value }, envelopeOf(m.file));
    assert.ok(event.op, m.file);
  }
  assert.equal(keys, 3);
});

test("a bare JSON object is not a row unless its topic is configured as flattened", () => {
  assert.throws(() => decode(WRAPPER), { code: "DECODE_ENVELOPE_MISMATCH" });
  const record = { topic: "", partition: 0, offset: "0", key: null, value: corpusFile(WRAPPER) };
  assert.equal(decoder.decode(record, "flattened").op, "c");
  // And an envelope on a topic configured as flattened is refused the same way.
  const envelope = corpusFile("postgres/pg-1.0.1-floodplain-payment-snapshot-last-with-schema.json");
  assert.throws(() => decoder.decode({ ...record, value: envelope }, "flattened"), {
    code: "DECODE_ENVELOPE_MISMATCH",
  });
});

test("Decimal: base64 two's complement with the schema's scale", () => {
  const after = row("postgres/pg-1.0.1-floodplain-payment-snapshot-last-with-schema.json").after!;
  assert.equal(after.amount, "2.99");
  assert.equal(after.payment_date, "2007-05-14T13:44:29.996577");
});

test("Decimal as a JSON number (decimal.format=NUMERIC) keeps every digit beyond double precision", () => {
  const after = row("mysql/mysql-1.9.7-paimon-flinkcdc-alltypes-decimal-numeric-with-schema.json").after!;
  assert.equal(after._fixed, "123456789876543212345678987654321.110");
  assert.equal(after._big_decimal, "2222222222222222300000001111.1234567890");
  assert.equal(after._bigint_unsigned, "20000000000");
  assert.equal(after._datetime6, "2023-03-23T14:30:05.123456");
  assert.equal(after._timestamp, "2023-03-23T22:00:10.123456Z");
  assert.equal(after._date, "2023-03-23");
});

test("int64 beyond 2^53 stays exact", () => {
  const event = row("postgres/pg-2.2.0-artie-integers-update-with-schema.json");
  const values = Object.values(event.after!).filter((v) => typeof v === "bigint");
  assert.ok(values.includes(2305843009213693952n), `got ${values.join(",")}`);
});

test("VariableScaleDecimal and money", () => {
  const numeric = row("postgres/pg-2.2.0-artie-numeric-update-with-schema.json").after!;
  assert.ok(Object.values(numeric).some((v) => typeof v === "string" && /^-?\d+\.\d+$/.test(v)));
  const money = row("postgres/pg-2.2.0-artie-money-update-with-schema.json").after!;
  assert.ok(Object.values(money).some((v) => typeof v === "string" && /^-?\d+\.\d{2}$/.test(v)));
});

test("the TOAST placeholder becomes the unchanged marker, never data", () => {
  const event = row("postgres/pg-0.10.0-blog-toast-unavailable-value-update-schemaless.json");
  assert.equal(event.after!.biography, UNCHANGED);
  assert.equal(event.before, null);
});

test("control records are recognised, never rows", () => {
  const begin = decode("control/pg-2.4-risingwave-transaction-begin.json");
  const end = decode("control/pg-2.4-risingwave-transaction-end.json");
  assert.equal(begin.op, "begin");
  assert.equal(end.op, "end");
  // PostgreSQL ids differ after the colon between BEGIN and END of one transaction.
  assert.ok(begin.op === "begin" && end.op === "end" && begin.id !== end.id && begin.group === end.group);
  assert.equal(
    decode("control/mysql-1.7.0-memiiso-schema-change-event-with-schema.json").op,
    "schema-change",
  );
  assert.equal(decode("control/mysql-doc-tutorial-tombstone-legacy-envelope.json").op, "tombstone");
});

test("ExtractNewRecordState output is a flattened row with its __ fields set aside", () => {
  const event = row("smt/pg-memiiso-unwrap-add-fields-lsn-with-schema.json");
  assert.ok(event.flattened);
  assert.ok(Object.keys(event.flattened.meta).every((k) => k.startsWith("__")));
  assert.ok(Object.keys(event.after!).every((k) => !k.startsWith("__")));
});

test("snapshot markers come through, whatever the schema's allowed list says", () => {
  const markers = corpusMessages()
    .filter((m) => m.file.startsWith("postgres/pg-2.5.4-artie-snapshot"))
    .map((m) => {
      const e = decoder.decode({
        topic: "",
        partition: 0,
        offset: "0",
        key: null,
        value: m.value,
      }) as RowChange;
      return e.source?.snapshot;
    });
  assert.deepEqual(markers, ["first", "true", "true", "last_in_data_collection"]);
});
