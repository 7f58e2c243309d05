/**
 * Every recorded fixture (real Debezium JSON) re-encoded as Avro DERIVED from its Connect schema
 * (test/support/avro.ts) decodes to exactly the events the JSON decoder gives: the same logical
 * types, exact decimals and int64s, µs/ns times, TOAST placeholders, tombstones and nulls. Framings
 * rotate per record (Confluent, Apicurio frame, Apicurio header, JSON key with an Avro value).
 */
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { AvroDecoder, type SchemaRef } from "../../src/decode/avro/index.ts";
import { type ChangeEvent, type KafkaRecord, RecordDecoder } from "../../src/decode/index.ts";
import { apicurioFrame, confluentFrame, globalIdHeader, toAvro } from "../support/avro.ts";
import { type Fixture, isJsonFixture, readFixture, recordedDir, toRecord } from "../support/fixtures.ts";

class Schemas {
  private readonly byKey = new Map<string, unknown>();
  private readonly ids = new Map<string, number>();
  fetched = 0;

  idOf(schema: unknown): number {
    const text = JSON.stringify(schema);
    let id = this.ids.get(text);
    if (id === undefined) {
      id = this.ids.size + 1;
      this.ids.set(text, id);
      this.byKey.set(`confluent:${id}`, schema);
      this.byKey.set(`apicurio:${id}`, schema);
    }
    return id;
  }

  async schema(ref: SchemaRef): Promise<unknown> {
    this.fetched++;
    const schema = this.byKey.get(`${ref.kind}:${ref.id}`);
    if (schema === undefined) throw new Error(`no schema ${ref.kind}:${ref.id}`);
    return schema;
  }
}

type Framing = "confluent" | "apicurio-frame" | "apicurio-header" | "json-key";
const framings: Framing[] = ["confluent", "apicurio-frame", "apicurio-header", "json-key"];

function frame(bytes: Buffer, id: number, framing: Framing): Buffer {
  if (framing === "confluent") return confluentFrame(id, bytes);
  if (framing === "apicurio-frame") return apicurioFrame(id, bytes);
  return bytes;
}

/** The record as the Avro converter would have written it, or the JSON record when it has no schema. */
export function avroRecord(json: KafkaRecord, schemas: Schemas, framing: Framing): KafkaRecord {
  const headers = { ...json.headers };
  const encode = (bytes: Buffer | null, what: "key" | "value"): Buffer | null => {
    if (bytes === null || (what === "key" && framing === "json-key")) return bytes;
    const avro = toAvro(bytes.toString("utf8"));
    if (!avro) return bytes;
    const id = schemas.idOf(avro.schema);
    const f = framing === "json-key" ? "apicurio-header" : framing;
    if (f === "apicurio-header") headers[`apicurio.${what}.globalId`] = globalIdHeader(id);
    return frame(avro.bytes, id, f);
  };
  return { ...json, key: encode(json.key, "key"), value: encode(json.value, "value"), headers };
}

function outcome(decode: () => ChangeEvent): ChangeEvent | { error: string } {
  try {
    return decode();
  } catch (error) {
    return { error: (error as { code?: string }).code ?? String(error) };
  }
}

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory()
      ? files(path.join(dir, e.name))
      : e.name.endsWith(".json")
        ? [path.join(dir, e.name)]
        : [],
  );
}

const fixtures = files(recordedDir)
  .map((f) => path.relative(recordedDir, f))
  // JSON recordings only: the avro-* folders hold the real converter's records (not derived).
  .filter((f) => isJsonFixture(f) && !f.includes("schemaless"));

test("fixtures to re-encode exist for both engines", () => {
  assert.ok(fixtures.some((f) => f.startsWith("postgres/")));
  assert.ok(fixtures.some((f) => f.startsWith("mariadb/")));
});

for (const file of fixtures) {
  test(`Avro derived from ${file} decodes as its JSON does`, async () => {
    const fixture: Fixture = readFixture(file);
    const options = {
      binaryHandlingMode:
        fixture.mode === "binary-hex" ? "hex" : fixture.mode === "binary-base64" ? "base64" : "bytes",
    } as const;
    const envelope = fixture.mode === "unwrap-rewrite" ? "flattened" : "debezium";
    const schemas = new Schemas();
    const json = new RecordDecoder(options);
    const avro = new AvroDecoder(schemas, options);
    const records = fixture.messages.map(toRecord);
    const framed = records.map((r, i) => avroRecord(r, schemas, framings[i % framings.length]!));
    await avro.prepare(framed);
    let binary = 0;
    for (let i = 0; i < records.length; i++) {
      if (framed[i]!.value !== records[i]!.value) binary++;
      const expected = outcome(() => json.decode(records[i]!, envelope));
      const actual = outcome(() => avro.decode(framed[i]!, envelope));
      assert.deepStrictEqual(actual, expected, `${file} message ${i}`);
    }
    assert.ok(binary > 0 || records.every((r) => r.value === null), `${file}: some values were Avro`);
    // Each distinct schema was fetched once.
    assert.ok(schemas.fetched <= 2 * new Set(framed.map((r) => r.value?.toString("hex"))).size);
  });
}
