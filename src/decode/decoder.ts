/**
 * Raw Kafka record → ChangeEvent. Two steps, as in a protocol parser: frame the bytes (JSON and
 * the Connect schema/payload split, frame.ts), then interpret the payload by its shape and `op`
 * (row-events.ts for data, source-info.ts for the metadata). Whatever fails leaves as a DecodeError.
 */
import { ShadowdbError } from "../errors.ts";
import { type CompiledKey, type CompiledValue, compileKey, compileValue } from "./compiled.ts";
import { type BinaryHandlingMode, DecodeContext } from "./context.ts";
import { DecodeError } from "./decode-error.ts";
import type { ChangeEvent, Coordinates } from "./events.ts";
import type { Format } from "./format.ts";
import { type Framed, frame, frameBytes, RecentSchemaTexts, SchemaCache } from "./frame.ts";
import { type HeaderValue, keyHeaderBytes } from "./keys.ts";
import { looseColumns } from "./loose.ts";
import { envelopeError, isObject, type Payload } from "./payload.ts";
import { type DecodedKey, type EnvelopeReading, envelopeEvent, flattenedEvent } from "./row-events.ts";
import { transactionBoundary } from "./source-info.ts";
import type { Row } from "./values.ts";

export { type HeaderValue, KEY_CHANGE_HEADERS } from "./keys.ts";

/** A record as kafkajs hands it over (and as fixtures store it). */
export interface KafkaRecord {
  topic: string;
  partition: number;
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  headers?: Record<string, HeaderValue>;
}

export interface DecoderOptions {
  /** How the source connector sends bytea/BLOB columns (`binary.handling.mode`); default "bytes". */
  binaryHandlingMode?: BinaryHandlingMode;
  /** Key plus value bytes above this are refused with DECODE_OVERSIZED; default 16 MiB. */
  maxRecordBytes?: number;
  /**
   * Which events get their before image decoded: "always" (default; what `shadowdb decode` shows)
   * or "deletes", the only events whose before an apply reads. MySQL sends the full old row with
   * every update, and decoding it was a twentieth of apply's time at wide rows; skipped, an
   * update's `before` is null.
   */
  before?: "always" | "deletes";
}

/**
 * What a topic's row records look like: Debezium's envelope (before/after/op/source), or rows
 * flattened by ExtractNewRecordState (`tables[].envelope`). A record of the other kind is refused:
 * read as a row, any bare JSON object on a topic would have been inserted.
 */
export type Envelope = "debezium" | "flattened";

/** A key or value read from a schema registry frame (Avro): its decoded data and compiled schema. */
export interface BinaryFrame<T> {
  payload: unknown;
  compiled: T;
}

/**
 * Reads the keys and values that are not JSON text (src/decode/avro). Undefined for JSON text,
 * which the decoder frames itself; throws for a frame it cannot read.
 */
export interface BinaryFrames {
  key(record: KafkaRecord, bytes: Buffer, format?: Format): BinaryFrame<CompiledKey> | undefined;
  value(record: KafkaRecord, bytes: Buffer, format?: Format): BinaryFrame<CompiledValue> | undefined;
}

const expectedShape = { debezium: "envelope", flattened: "flattened" } as const;

export class RecordDecoder {
  private readonly values = new SchemaCache<CompiledValue>(compileValue);
  private readonly valueSchemaTexts = new RecentSchemaTexts();
  private readonly keys = new SchemaCache<CompiledKey>(compileKey);
  private readonly keySchemaTexts = new RecentSchemaTexts();
  private readonly binaryMode: BinaryHandlingMode;
  private readonly maxRecordBytes: number;
  private readonly reading: EnvelopeReading;

  /** `frames`: how registry-framed records are read; absent, every key and value is JSON text. */
  constructor(
    options: DecoderOptions = {},
    private readonly frames?: BinaryFrames,
  ) {
    this.binaryMode = options.binaryHandlingMode ?? "bytes";
    this.maxRecordBytes = options.maxRecordBytes ?? 16 * 1024 * 1024;
    this.reading = {
      everyBefore: (options.before ?? "always") === "always",
      // Primary-key changes carry the other key in a header; decoded like a key.
      decodeKey: (text) => this.keyOf(frame(text, "key")).row,
    };
  }

  /**
   * `envelope`: what the topic's row records are (default debezium); control records pass either
   * way. `format`: the table's pinned format, when it has one.
   */
  decode(record: KafkaRecord, envelope: Envelope = "debezium", format?: Format): ChangeEvent {
    const at: Coordinates = { topic: record.topic, partition: record.partition, offset: record.offset };
    try {
      return this.interpret(record, at, envelope, format);
    } catch (error) {
      throw DecodeError.wrap(error, at);
    }
  }

  private interpret(record: KafkaRecord, at: Coordinates, envelope: Envelope, format?: Format): ChangeEvent {
    // The key-change headers are decoded too, so they count.
    const size = (record.key?.length ?? 0) + (record.value?.length ?? 0) + keyHeaderBytes(record.headers);
    if (size > this.maxRecordBytes) {
      throw new ShadowdbError(
        "DECODE_OVERSIZED",
        `record has ${size} bytes, the limit is ${this.maxRecordBytes}`,
      );
    }
    const key = record.key === null ? null : this.keyFrom(record, record.key, format);
    if (record.value === null) return { op: "tombstone", at, key: key?.row ?? null };
    const binary = this.frames?.value(record, record.value, format);
    const framed = binary ? undefined : frameBytes(record.value, "value", this.valueSchemaTexts);
    const payload = binary ? binary.payload : framed!.payload;
    // Before Kafka 2.2 a tombstone was written as {"schema":null,"payload":null}.
    if (payload === null) return { op: "tombstone", at, key: key?.row ?? null };
    if (!isObject(payload)) envelopeError("the value payload is not an object");
    // Binary values carry no number text: their int64s and decimals arrive exact.
    const ctx = new DecodeContext(framed ? framed.payloadText : "", this.binaryMode);
    const compiled = binary
      ? binary.compiled
      : framed!.schemaText === null
        ? undefined
        : this.values.get(framed!.schemaText);
    const shape = compiled?.shape ?? inferShape(payload, record.topic);
    if ((shape === "envelope" || shape === "flattened") && shape !== expectedShape[envelope]) {
      throw new ShadowdbError(
        "DECODE_ENVELOPE_MISMATCH",
        shape === "flattened"
          ? "the value is a bare row, not a Debezium envelope; a topic of ExtractNewRecordState rows needs `envelope: flattened` in its tables[] entry"
          : "the value is a Debezium envelope, but the topic's tables[] entry says `envelope: flattened`",
      );
    }
    switch (shape) {
      case "envelope":
        return envelopeEvent(
          payload,
          compiled?.shape === "envelope" ? compiled : undefined,
          ctx,
          key,
          record,
          at,
          this.reading,
        );
      case "flattened":
        return flattenedEvent(payload, compiled?.shape === "flattened" ? compiled : undefined, ctx, key, at);
      case "heartbeat":
        return { op: "heartbeat", at, tsMs: Number(payload.ts_ms ?? 0) };
      case "transaction":
        return transactionBoundary(payload, at);
      case "schema-change":
        return {
          op: "schema-change",
          at,
          database: String(payload.databaseName ?? ""),
          ddl: String(payload.ddl ?? ""),
          tableChanges: Array.isArray(payload.tableChanges) ? payload.tableChanges : [],
        };
    }
  }

  private keyFrom(record: KafkaRecord, bytes: Buffer, format: Format | undefined): DecodedKey {
    const binary = this.frames?.key(record, bytes, format);
    if (binary) return compiledKey(binary.compiled, binary.payload, new DecodeContext("", this.binaryMode));
    return this.keyOf(frameBytes(bytes, "key", this.keySchemaTexts));
  }

  private keyOf(framed: Framed): DecodedKey {
    const ctx = new DecodeContext(framed.payloadText, this.binaryMode);
    if (framed.schemaText !== null) return compiledKey(this.keys.get(framed.schemaText), framed.payload, ctx);
    if (!isObject(framed.payload)) envelopeError("the key is not a struct");
    return { row: looseColumns(framed.payload, ctx), columns: Object.keys(framed.payload) };
  }
}

function compiledKey(compiled: CompiledKey, payload: unknown, ctx: DecodeContext): DecodedKey {
  const row = compiled.field.decode(payload, ctx, "key");
  if (!isObject(row)) envelopeError("the key is not a struct");
  return { row: row as Row, columns: compiled.columns };
}

function inferShape(payload: Payload, topic: string): CompiledValue["shape"] {
  if (typeof payload.op === "string" && "source" in payload) return "envelope";
  if ((payload.status === "BEGIN" || payload.status === "END") && typeof payload.id === "string")
    return "transaction";
  if (typeof payload.ddl === "string" && "databaseName" in payload) return "schema-change";
  if (topic.startsWith("__debezium-heartbeat")) return "heartbeat";
  return "flattened";
}
