/**
 * Avro pieces on their own: the writer schema read back as a Connect schema, exact values (int64
 * and nanosecond times beyond 2^53, decimals, µs times, TOAST, tombstones, nulls), hostile bytes,
 * pinned formats and the prepare/decode contract. Data is DERIVED from the recorded fixtures
 * (test/support/avro.ts) except the small synthetic rows below, which are no Debezium message.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { AvroDecoder, connectSchemaOf, type SchemaRef } from "../../src/decode/avro/index.ts";
import { bigIntToVarint, varintToBigInt } from "../../src/decode/avro/long.ts";
import { DecodeError, type KafkaRecord, type RowChange, UNCHANGED } from "../../src/decode/index.ts";
import { ShadowdbError } from "../../src/errors.ts";
import { avroTypeOf, confluentFrame, toAvro } from "../support/avro.ts";
import { readFixture, toRecord } from "../support/fixtures.ts";

const at = { topic: "t", partition: 0, offset: "7" };

function sourceOf(schemas: Map<number, unknown>) {
  return {
    asked: 0,
    async schema(ref: SchemaRef) {
      this.asked++;
      const schema = schemas.get(ref.id);
      if (schema === undefined) throw new ShadowdbError("DECODE_SCHEMA_NOT_FOUND", `no schema ${ref.id}`);
      return schema;
    },
  };
}

/** Every message of a fixture, Confluent-framed as Avro DERIVED from its Connect schemas. */
async function decodeFixture(file: string): Promise<ReturnType<AvroDecoder["decode"]>[]> {
  const schemas = new Map<number, unknown>();
  const ids = new Map<string, number>();
  const encode = (bytes: Buffer | null) => {
    const avro = bytes && toAvro(bytes.toString());
    if (!avro) return bytes;
    const text = JSON.stringify(avro.schema);
    if (!ids.has(text)) ids.set(text, ids.size + 1);
    schemas.set(ids.get(text)!, avro.schema);
    return confluentFrame(ids.get(text)!, avro.bytes);
  };
  const records = readFixture(file).messages.map((m) => {
    const r = toRecord(m);
    return { ...r, key: encode(r.key), value: encode(r.value) };
  });
  const decoder = new AvroDecoder(sourceOf(schemas));
  await decoder.prepare(records);
  return records.map((r) => decoder.decode(r, file.includes("unwrap") ? "flattened" : "debezium"));
}

test("longs round-trip as BigInt at every size, through the varint reader", () => {
  for (const v of [0n, 1n, -1n, 63n, -64n, 2n ** 53n + 1n, -(2n ** 63n), 2n ** 63n - 1n, 123456789012n])
    assert.equal(varintToBigInt(bigIntToVarint(v)), v);
  const long = avroTypeOf("long");
  for (let bits = 0n; bits < 64n; bits++) {
    for (const v of [2n ** bits - 1n, -(2n ** bits), 2n ** bits + 1n]) {
      const exact = BigInt.asIntN(64, v);
      assert.equal(long.fromBuffer(bigIntToVarint(exact)), exact);
    }
  }
  // Cut short inside a varint of either length: truncated, not a value.
  assert.equal(long.decode(bigIntToVarint(2n ** 40n).subarray(0, 3)).offset, -1);
  assert.equal(long.decode(bigIntToVarint(2n ** 60n).subarray(0, 8)).offset, -1);
});

test("exact values from Avro: int64 past 2^53, decimals, µs times, TOAST, tombstones, nulls", async () => {
  const precise = (await decodeFixture("mariadb/bigint-precise/alltypes-snapshot.json")) as RowChange[];
  const row = precise.find((e) => e.after?.c_bigint === 9007199254740993n)?.after;
  assert.ok(row, "the 2^53 + 1 bigint arrives exact");
  assert.equal(row.c_decimal_65_30, "12345678901234567890123456789012345.123456789012345678901234567890");
  assert.equal(row.c_datetime6, "2024-02-29T12:34:56.123456");
  assert.equal(row.c_float, 3.14);
  assert.ok(
    precise.some((e) => e.after && Object.values(e.after).includes(null)),
    "nulls stay null",
  );

  const toast = (await decodeFixture("postgres/default/toast.json")) as RowChange[];
  assert.ok(
    toast.some((e) => e.after && Object.values(e.after).includes(UNCHANGED)),
    "TOAST placeholder",
  );
  const deletes = await decodeFixture("postgres/default/delete.json");
  assert.ok(
    deletes.some((e) => e.op === "tombstone" && e.key !== null),
    "tombstone with its Avro key",
  );
});

// A synthetic flattened row, no Debezium message: the types Connect's Avro converters write.
const row = {
  type: "record",
  name: "Row",
  namespace: "x",
  fields: [
    { name: "id", type: { type: "int", "connect.type": "int16" } },
    {
      name: "ns",
      type: ["null", { type: "long", "connect.name": "io.debezium.time.NanoTimestamp" }],
      default: null,
    },
    {
      name: "amount",
      type: { type: "bytes", logicalType: "decimal", precision: 30, scale: 4 },
    },
    { name: "tags", type: { type: "array", items: "string" } },
  ],
};

test("the writer schema becomes the Connect schema it was made from", () => {
  const withRef = {
    type: "record",
    name: "Envelope",
    namespace: "p.s.t",
    "connect.name": "p.s.t.Envelope",
    fields: [
      {
        name: "before",
        type: ["null", { type: "record", name: "Value", fields: [{ name: "id", type: "long" }] }],
        default: null,
      },
      { name: "after", type: ["null", "Value"], default: null },
      { name: "op", type: "string" },
      { name: "n", type: [{ type: "int", "connect.type": "int8" }, "null"], default: 5 },
    ],
  };
  const connect = connectSchemaOf(withRef);
  assert.equal(connect.name, "p.s.t.Envelope");
  assert.deepEqual(connect.fields![0], connect.fields![1] && { ...connect.fields![1], field: "before" });
  assert.deepEqual(connect.fields![1]!.fields, [{ type: "int64", optional: false, field: "id" }]);
  assert.deepEqual(connect.fields![3], { type: "int8", optional: true, field: "n", default: 5 });
  const decimal = connectSchemaOf({ type: "bytes", logicalType: "decimal", precision: 9, scale: 2 });
  assert.deepEqual(decimal.parameters, { scale: "2", "connect.decimal.precision": "9" });
  assert.equal(decimal.name, "org.apache.kafka.connect.data.Decimal");

  const refused = (schema: unknown, pattern: RegExp) =>
    assert.throws(
      () => connectSchemaOf(schema),
      (e: unknown) =>
        e instanceof ShadowdbError && e.code === "DECODE_BAD_REGISTRY_SCHEMA" && pattern.test(e.message),
    );
  refused({ type: "record", name: "R", fields: [{ name: "me", type: ["null", "R"] }] }, /contains itself/);
  refused(["int", "string"], /only \["null", T\] unions/);
  refused("Nowhere", /unknown type/);
  let deep: unknown = "int";
  for (let i = 0; i < 70; i++) deep = { type: "array", items: deep };
  refused(deep, /deeper than 64/);
  // Each record names the one before twice: 2^30 nodes expanded.
  const chain: unknown[] = [{ type: "record", name: "R0", fields: [{ name: "a", type: "int" }] }];
  for (let i = 1; i <= 30; i++)
    chain.push({
      type: "record",
      name: `R${i}`,
      fields: [
        { name: "a", type: chain[i - 1] },
        { name: "b", type: `R${i - 1}` },
      ],
    });
  refused(chain[30], /more than 100000 types/);
});

test("nanosecond times and int64 beyond 2^53, exact through the compiled decoders", async () => {
  const schema = { ...row, fields: row.fields.slice(0, 4) };
  const type = avroTypeOf(schema);
  const ns = 1709210096123456789n; // beyond 2^53: a double would round it
  const bytes = type.toBuffer({
    id: 3,
    ns: { long: ns },
    amount: Buffer.from([0x01, 0xe2, 0x40]),
    tags: ["a"],
  });
  const decoder = new AvroDecoder(sourceOf(new Map([[1, schema]])));
  const record: KafkaRecord = { ...at, key: null, value: confluentFrame(1, bytes) };
  await decoder.prepare([record]);
  const event = decoder.decode(record, "flattened") as RowChange;
  assert.deepEqual(event.after, {
    id: 3,
    ns: "2024-02-29T12:34:56.123456789",
    amount: "12.3456",
    tags: ["a"],
  });
  assert.equal(event.columns.find((c) => c.name === "id")!.type.kind, "int16");
});

test("a block count past the bytes left is refused at once, not allocated", async () => {
  const schema = {
    type: "record",
    name: "A",
    fields: [{ name: "items", type: { type: "array", items: "int" } }],
  };
  const decoder = new AvroDecoder(sourceOf(new Map([[1, schema]])));
  // 2^31 items claimed in a 10-byte record.
  const value = confluentFrame(1, Buffer.concat([bigIntToVarint(2n ** 31n), Buffer.from([2, 2, 2])]));
  const record: KafkaRecord = { ...at, key: null, value };
  await decoder.prepare([record]);
  const started = performance.now();
  assert.throws(
    () => decoder.decode(record, "flattened"),
    (e: unknown) => e instanceof DecodeError && e.code === "DECODE_AVRO_MISMATCH",
  );
  assert.ok(performance.now() - started < 1000);
});

test("an Avro string that is not UTF-8 is DECODE_BAD_UTF8, as in JSON", async () => {
  const schema = { type: "record", name: "S", fields: [{ name: "s", type: "string" }] };
  const decoder = new AvroDecoder(sourceOf(new Map([[1, schema]])));
  const record: KafkaRecord = { ...at, key: null, value: confluentFrame(1, Buffer.from([4, 0x61, 0xff])) };
  await decoder.prepare([record]);
  assert.throws(
    () => decoder.decode(record, "flattened"),
    (e: unknown) => e instanceof DecodeError && e.code === "DECODE_BAD_UTF8",
  );
});

test("prepare: the registry down rejects (retriable) and is asked again; unprepared ids are retriable", async () => {
  let down = true;
  const schema = { ...row, fields: row.fields.slice(0, 1) };
  const decoder = new AvroDecoder({
    schema: async () => {
      if (down) throw new ShadowdbError("REGISTRY_UNAVAILABLE", "down");
      return schema;
    },
  });
  const record: KafkaRecord = {
    ...at,
    key: null,
    value: confluentFrame(1, avroTypeOf(schema).toBuffer({ id: 1 })),
  };
  assert.throws(
    () => decoder.decode(record, "flattened"),
    (e: unknown) => e instanceof DecodeError && e.code === "REGISTRY_SCHEMA_NOT_PREPARED" && e.retriable,
  );
  await assert.rejects(decoder.prepare([record]), (e: unknown) => e instanceof ShadowdbError && e.retriable);
  down = false;
  await decoder.prepare([record]);
  assert.deepEqual((decoder.decode(record, "flattened") as RowChange).after, { id: 1 });
});

test("a pinned format is trusted: avro refuses JSON text, json reads a frame as (bad) JSON", async () => {
  const schema = { ...row, fields: row.fields.slice(0, 1) };
  const decoder = new AvroDecoder(sourceOf(new Map([[1, schema]])));
  const json: KafkaRecord = { ...at, key: null, value: Buffer.from('{"id":1}') };
  const avro: KafkaRecord = {
    ...at,
    key: null,
    value: confluentFrame(1, avroTypeOf(schema).toBuffer({ id: 1 })),
  };
  await decoder.prepare([json, avro]);
  assert.deepEqual((decoder.decode(json, "flattened") as RowChange).after, { id: 1 });
  assert.throws(
    () => decoder.decode(json, "flattened", "avro"),
    (e: unknown) => e instanceof DecodeError && e.code === "DECODE_BAD_MAGIC",
  );
  assert.throws(
    () => decoder.decode(avro, "flattened", "json"),
    (e: unknown) => e instanceof DecodeError && e.code === "DECODE_MALFORMED_JSON",
  );
});
