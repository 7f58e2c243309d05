/**
 * Writer schemas by id, resolved before a batch is decoded (prepare) so that decoding stays
 * synchronous: each becomes its avsc type and, on first use as a key or a value, its compiled
 * Connect schema. An id the registry refuses for good (404, not Avro, unusable) is kept as that
 * error, for every record naming it; one it cannot answer now is not kept, and prepare rejects.
 */
import { ShadowdbError } from "../../errors.ts";
import { type CompiledKey, type CompiledValue, compileKey, compileValue } from "../compiled.ts";
import type { BinaryFrame, BinaryFrames, KafkaRecord } from "../decoder.ts";
import type { Format } from "../format.ts";
import type { ConnectSchema } from "../schema.ts";
import { avroType, readAvro } from "./avro-type.ts";
import { connectSchemaOf } from "./connect-schema.ts";
import { type Framing, recognise, refKey, type SchemaRef } from "./framing.ts";

/** Where writer schemas come from: the registry client, or a test's table. Resolves to the schema's JSON. */
export interface SchemaSource {
  schema(ref: SchemaRef): Promise<unknown>;
}

class Resolved {
  private value: CompiledValue | ShadowdbError | undefined;
  private key: CompiledKey | ShadowdbError | undefined;

  constructor(
    readonly type: ReturnType<typeof avroType>,
    readonly connect: ConnectSchema,
  ) {}

  compiledValue(): CompiledValue {
    this.value ??= attempt(() => compileValue(this.connect));
    if (this.value instanceof ShadowdbError) throw this.value;
    return this.value;
  }

  compiledKey(): CompiledKey {
    this.key ??= attempt(() => compileKey(this.connect));
    if (this.key instanceof ShadowdbError) throw this.key;
    return this.key;
  }
}

function attempt<T>(compile: () => T): T | ShadowdbError {
  try {
    return compile();
  } catch (error) {
    if (error instanceof ShadowdbError) return error;
    throw error;
  }
}

export function resolve(schemaJson: unknown): Resolved {
  // The Connect schema first: it refuses what Connect cannot have (unions, recursion) before avsc builds it.
  const connect = connectSchemaOf(schemaJson);
  return new Resolved(avroType(schemaJson), connect);
}

export class AvroSchemas implements BinaryFrames {
  private readonly entries = new Map<string, Resolved | ShadowdbError>();

  constructor(
    private readonly source: SchemaSource,
    private readonly limit = 2048,
  ) {}

  /** Resolves every schema id the records name; rejects (retriable) when the registry cannot answer now. */
  async prepare(records: Iterable<KafkaRecord>, formatOf?: (record: KafkaRecord) => Format | undefined) {
    const wanted = new Map<string, SchemaRef>();
    for (const record of records) {
      const format = formatOf?.(record);
      for (const [what, bytes] of [
        ["key", record.key],
        ["value", record.value],
      ] as const) {
        if (bytes === null) continue;
        const framing = framingOf(bytes, record, what, format);
        if (framing?.format !== "avro") continue;
        const key = refKey(framing.ref);
        if (!this.entries.has(key)) wanted.set(key, framing.ref);
      }
    }
    const results = await Promise.allSettled([...wanted.values()].map((ref) => this.source.schema(ref)));
    let retry: unknown;
    [...wanted.keys()].forEach((key, i) => {
      const result = results[i]!;
      if (result.status === "fulfilled")
        this.remember(
          key,
          attempt(() => resolve(result.value)),
        );
      else if (result.reason instanceof ShadowdbError && !result.reason.retriable)
        this.remember(key, result.reason);
      else retry ??= result.reason;
    });
    if (retry !== undefined) throw retry;
  }

  key(record: KafkaRecord, bytes: Buffer, format?: Format): BinaryFrame<CompiledKey> | undefined {
    const framing = recognise(bytes, record.headers, "key", format);
    if (framing.format !== "avro") return undefined;
    const entry = this.entry(framing);
    return { payload: readAvro(entry.type, framing.body, "key"), compiled: entry.compiledKey() };
  }

  value(record: KafkaRecord, bytes: Buffer, format?: Format): BinaryFrame<CompiledValue> | undefined {
    const framing = recognise(bytes, record.headers, "value", format);
    if (framing.format !== "avro") return undefined;
    const entry = this.entry(framing);
    // Compiled before reading: a schema shadowdb cannot use says so rather than its bytes.
    const compiled = entry.compiledValue();
    const payload = readAvro(entry.type, framing.body, "value");
    // A schema change's tableChanges are passed on as data, as JSON gives them.
    return { payload: compiled.shape === "schema-change" ? plainData(payload) : payload, compiled };
  }

  get size(): number {
    return this.entries.size;
  }

  private entry(framing: Extract<Framing, { format: "avro" }>): Resolved {
    const entry = this.entries.get(refKey(framing.ref));
    if (entry === undefined) {
      throw new ShadowdbError(
        "REGISTRY_SCHEMA_NOT_PREPARED",
        `schema ${refKey(framing.ref)} was not resolved before decoding`,
      );
    }
    if (entry instanceof ShadowdbError) throw entry;
    return entry;
  }

  private remember(key: string, entry: Resolved | ShadowdbError): void {
    if (this.entries.size >= this.limit) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(key, entry);
  }
}

/** Avro data as JSON.parse would have given it: plain objects (not avsc's record classes), safe longs as numbers. */
function plainData(value: unknown): unknown {
  if (typeof value === "bigint")
    return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER)
      ? Number(value)
      : value;
  if (value === null || typeof value !== "object" || Buffer.isBuffer(value)) return value;
  if (Array.isArray(value)) return value.map(plainData);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = plainData(v);
  return out;
}

/** A framing error is left for decode(), which reports it with the record's coordinates. */
function framingOf(bytes: Buffer, record: KafkaRecord, what: "key" | "value", format?: Format) {
  try {
    return recognise(bytes, record.headers, what, format);
  } catch {
    return undefined;
  }
}
