/**
 * Raw Kafka record → ChangeEvent. Two steps, as in a protocol parser: frame the bytes (JSON and
 * the Connect schema/payload split), then interpret the payload by its shape and `op`.
 */
import { isDeepStrictEqual } from "node:util";
import { ShadowdbError } from "../errors.ts";
import type { Column, CompiledField } from "./columns.ts";
import { type CompiledKey, type CompiledValue, compileKey, compileValue } from "./compiled.ts";
import { type BinaryHandlingMode, DecodeContext } from "./context.ts";
import { DecodeError } from "./decode-error.ts";
import type {
  ChangeEvent,
  Coordinates,
  RowChange,
  SnapshotMarker,
  SourceInfo,
  TableRef,
  TransactionBoundary,
  TransactionRef,
} from "./events.ts";
import { checkedText, type Framed, frame, frameBytes, RecentSchemaTexts, SchemaCache } from "./frame.ts";
import { badName, preview } from "./limits.ts";
import { looseRow } from "./loose.ts";
import { type Row, UNCHANGED, type Value } from "./values.ts";

/** The headers decoding reads (a primary-key change's other key); it never looks at the others. */
export const KEY_CHANGE_HEADERS = ["__debezium.oldkey", "__debezium.newkey"] as const;

export type HeaderValue = Buffer | string | undefined | (Buffer | string)[];

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

const expectedShape = { debezium: "envelope", flattened: "flattened" } as const;

type Payload = Record<string, unknown>;

function isObject(value: unknown): value is Payload {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

function envelopeError(message: string): never {
  throw new ShadowdbError("DECODE_BAD_ENVELOPE", message);
}

export class RecordDecoder {
  private readonly values = new SchemaCache<CompiledValue>(compileValue);
  private readonly valueSchemaTexts = new RecentSchemaTexts();
  private readonly keys = new SchemaCache<CompiledKey>(compileKey);
  private readonly keySchemaTexts = new RecentSchemaTexts();
  private readonly binaryMode: BinaryHandlingMode;
  private readonly maxRecordBytes: number;
  private readonly everyBefore: boolean;

  constructor(options: DecoderOptions = {}) {
    this.binaryMode = options.binaryHandlingMode ?? "bytes";
    this.maxRecordBytes = options.maxRecordBytes ?? 16 * 1024 * 1024;
    this.everyBefore = (options.before ?? "always") === "always";
  }

  /** `envelope`: what the topic's row records are (default debezium); control records pass either way. */
  decode(record: KafkaRecord, envelope: Envelope = "debezium"): ChangeEvent {
    const at: Coordinates = { topic: record.topic, partition: record.partition, offset: record.offset };
    try {
      return this.interpret(record, at, envelope);
    } catch (error) {
      throw DecodeError.wrap(error, at);
    }
  }

  private interpret(record: KafkaRecord, at: Coordinates, envelope: Envelope): ChangeEvent {
    // The key-change headers are decoded too, so they count.
    const size = (record.key?.length ?? 0) + (record.value?.length ?? 0) + keyHeaderBytes(record.headers);
    if (size > this.maxRecordBytes) {
      throw new ShadowdbError(
        "DECODE_OVERSIZED",
        `record has ${size} bytes, the limit is ${this.maxRecordBytes}`,
      );
    }
    const key = record.key === null ? null : this.keyOf(frameBytes(record.key, "key", this.keySchemaTexts));
    if (record.value === null) return { op: "tombstone", at, key: key?.row ?? null };
    const framed = frameBytes(record.value, "value", this.valueSchemaTexts);
    // Before Kafka 2.2 a tombstone was written as {"schema":null,"payload":null}.
    if (framed.payload === null) return { op: "tombstone", at, key: key?.row ?? null };
    if (!isObject(framed.payload)) envelopeError("the value payload is not an object");
    const ctx = new DecodeContext(framed.payloadText, this.binaryMode);
    const compiled = framed.schemaText === null ? undefined : this.values.get(framed.schemaText);
    const shape = compiled?.shape ?? inferShape(framed.payload, record.topic);
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
        return this.envelope(
          framed,
          compiled?.shape === "envelope" ? compiled : undefined,
          ctx,
          key,
          record,
          at,
        );
      case "flattened":
        return this.flattened(
          framed.payload,
          compiled?.shape === "flattened" ? compiled : undefined,
          ctx,
          key,
          at,
        );
      case "heartbeat":
        return { op: "heartbeat", at, tsMs: Number(framed.payload.ts_ms ?? 0) };
      case "transaction":
        return transactionBoundary(framed.payload, at);
      case "schema-change":
        return {
          op: "schema-change",
          at,
          database: String(framed.payload.databaseName ?? ""),
          ddl: String(framed.payload.ddl ?? ""),
          tableChanges: Array.isArray(framed.payload.tableChanges) ? framed.payload.tableChanges : [],
        };
    }
  }

  private decodeKey(text: string): { row: Row; columns: string[] } {
    return this.keyOf(frame(text, "key"));
  }

  private keyOf(framed: Framed): { row: Row; columns: string[] } {
    const ctx = new DecodeContext(framed.payloadText, this.binaryMode);
    if (framed.schemaText !== null) {
      const compiled = this.keys.get(framed.schemaText);
      const row = compiled.field.decode(framed.payload, ctx, "key");
      if (!isObject(row)) envelopeError("the key is not a struct");
      return { row: row as Row, columns: compiled.columns };
    }
    if (!isObject(framed.payload)) envelopeError("the key is not a struct");
    return { row: looseColumns(framed.payload, ctx), columns: Object.keys(framed.payload) };
  }

  private envelope(
    framed: Framed,
    compiled: Extract<CompiledValue, { shape: "envelope" }> | undefined,
    ctx: DecodeContext,
    key: { row: Row; columns: string[] } | null,
    record: KafkaRecord,
    at: Coordinates,
  ): ChangeEvent {
    const payload = framed.payload as Payload;
    const source = sourceInfo(payload.source, ctx);
    const op = payload.op;
    switch (op) {
      case "c":
      case "r":
      case "u":
      case "d": {
        const before =
          op === "d" || this.everyBefore ? rowOf(payload.before, compiled?.before, ctx, "before") : null;
        const after = rowOf(payload.after, compiled?.after, ctx, "after");
        if (op !== "d" && after === null) {
          throw new ShadowdbError("DECODE_MISSING_ROW", `op '${op}' without after`);
        }
        if (op === "d" && before === null && key === null) {
          throw new ShadowdbError("DECODE_MISSING_ROW", "a delete with neither key nor before");
        }
        // A primary-key change arrives as a delete under the old key and a create under the new
        // one, so each row still agrees with its own key.
        if (key) checkKey(key.row, op === "d" ? before : after);
        const event: RowChange = {
          op,
          at,
          table: tableOf(source, payload.source, record.topic),
          key: key?.row ?? null,
          before,
          after,
          columns: compiled?.columns ?? [],
          keyColumns: key?.columns ?? [],
          source,
          transaction: transactionRef(payload.transaction),
        };
        const keyChange = this.keyChange(record.headers);
        if (keyChange) event.keyChange = keyChange;
        return event;
      }
      case "t":
        return {
          op: "t",
          at,
          table: tableOf(source, payload.source, record.topic),
          source,
          transaction: transactionRef(payload.transaction),
        };
      case "m": {
        const message = isObject(payload.message) ? payload.message : {};
        const content = message.content;
        return {
          op: "m",
          at,
          prefix: String(message.prefix ?? ""),
          content: typeof content === "string" ? Buffer.from(content, "base64") : null,
          source,
        };
      }
      default:
        throw new ShadowdbError(
          "DECODE_UNKNOWN_OP",
          `unknown op ${preview(JSON.stringify(op) ?? "undefined", 40)}`,
        );
    }
  }

  private flattened(
    payload: Payload,
    compiled: Extract<CompiledValue, { shape: "flattened" }> | undefined,
    ctx: DecodeContext,
    key: { row: Row; columns: string[] } | null,
    at: Coordinates,
  ): RowChange {
    const decoded = (compiled ? compiled.row.decode(payload, ctx, "row") : looseColumns(payload, ctx)) as Row;
    const row: Row = {};
    const meta: Row = {};
    for (const [name, value] of Object.entries(decoded)) (name.startsWith("__") ? meta : row)[name] = value;
    const deleted = meta.__deleted === "true" || meta.__deleted === true;
    const declared =
      typeof meta.__op === "string" && meta.__op.length === 1 && "cdur".includes(meta.__op)
        ? meta.__op
        : undefined;
    const op = deleted ? "d" : ((declared as RowChange["op"] | undefined) ?? "c");
    const parts = at.topic.split(".");
    const event: RowChange = {
      op,
      at,
      table: {
        database: null,
        schema: parts.length >= 3 ? parts.at(-2)! : null,
        table: typeof meta.__table === "string" ? meta.__table : parts.at(-1)!,
      },
      key: key?.row ?? null,
      before: op === "d" ? row : null,
      after: op === "d" ? null : row,
      columns: (compiled?.columns ?? []).filter((c: Column) => !c.name.startsWith("__")),
      keyColumns: key?.columns ?? [],
      source: null,
      transaction: null,
      flattened: { meta },
    };
    if (key) checkKey(key.row, row);
    return event;
  }

  /** Primary-key changes carry the other key in a header; decoded like a key, tolerant of its framing. */
  private keyChange(headers: KafkaRecord["headers"]): RowChange["keyChange"] | undefined {
    const [oldName, newName] = KEY_CHANGE_HEADERS;
    const oldKey = headerRow(headers?.[oldName], (t) => this.decodeKey(t).row);
    const newKey = headerRow(headers?.[newName], (t) => this.decodeKey(t).row);
    if (!oldKey && !newKey) return undefined;
    return { ...(oldKey && { oldKey }), ...(newKey && { newKey }) };
  }
}

function keyHeaderBytes(headers: KafkaRecord["headers"]): number {
  let bytes = 0;
  for (const name of KEY_CHANGE_HEADERS) {
    const value = headers?.[name];
    const first = Array.isArray(value) ? value[0] : value;
    if (first !== undefined) bytes += first.length;
  }
  return bytes;
}

function headerRow(value: HeaderValue, decode: (text: string) => Row): Row | undefined {
  const first = Array.isArray(value) ? value[0] : value;
  if (first === undefined) return undefined;
  return decode(checkedText(typeof first === "string" ? Buffer.from(first) : first, "key header"));
}

function rowOf(
  raw: unknown,
  field: CompiledField | null | undefined,
  ctx: DecodeContext,
  name: string,
): Row | null {
  if (raw === null || raw === undefined) return null;
  if (field) return field.decode(raw, ctx, name) as Row;
  if (!isObject(raw)) envelopeError(`${name} is not an object`);
  return looseColumns(raw, ctx);
}

/** A schemaless row or key: its members are columns, so their names are checked as a schema's are. */
function looseColumns(raw: Payload, ctx: DecodeContext): Row {
  for (const name in raw) {
    // Rows of a table repeat their names: each is checked once (a check per name and row was a
    // tenth of a schemaless decode).
    if (goodNames.has(name)) continue;
    const problem = badName(name);
    if (problem)
      throw new ShadowdbError(
        "DECODE_BAD_VALUE",
        `column name ${JSON.stringify(preview(name, 80))} ${problem}`,
      );
    if (goodNames.size >= 10_000) goodNames.clear();
    goodNames.add(name);
  }
  return looseRow(raw, ctx);
}

const goodNames = new Set<string>();

/**
 * DECODE_KEY_MISMATCH when the message key and the row it carries disagree on a key column:
 * applied, the row would land under the key's id or the row's, and either is wrong. Values are
 * not quoted (a key can be what masking hides). Key fields the row lacks (a router's table
 * identifier) or did not send (TOAST) are not compared.
 */
function checkKey(key: Row, row: Row | null): void {
  if (!row) return;
  for (const column in key) {
    const expected = key[column]!;
    const value = row[column];
    if (value === undefined || value === UNCHANGED || expected === UNCHANGED) continue;
    if (!sameValue(expected, value)) {
      throw new ShadowdbError(
        "DECODE_KEY_MISMATCH",
        `the message key's ${JSON.stringify(preview(column, 80))} differs from the row's`,
      );
    }
  }
}

/** Equal as decoded; an int64 from a schema and the same integer from a schemaless side agree. */
function sameValue(a: Value, b: Value): boolean {
  if (typeof a === "bigint" && typeof b === "number") return Number.isInteger(b) && a === BigInt(b);
  if (typeof a === "number" && typeof b === "bigint") return Number.isInteger(a) && BigInt(a) === b;
  return isDeepStrictEqual(a, b);
}

function inferShape(payload: Payload, topic: string): CompiledValue["shape"] {
  if (typeof payload.op === "string" && "source" in payload) return "envelope";
  if ((payload.status === "BEGIN" || payload.status === "END") && typeof payload.id === "string")
    return "transaction";
  if (typeof payload.ddl === "string" && "databaseName" in payload) return "schema-change";
  if (topic.startsWith("__debezium-heartbeat")) return "heartbeat";
  return "flattened";
}

const snapshotMarkers = new Set([
  "first",
  "first_in_data_collection",
  "true",
  "last_in_data_collection",
  "last",
  "incremental",
]);

function bigintField(raw: unknown, ctx: DecodeContext, key: string): bigint | undefined {
  if (typeof raw !== "number" || !Number.isInteger(raw)) return undefined;
  if (Number.isSafeInteger(raw)) return BigInt(raw);
  const text = ctx.numberText(key, raw);
  return text !== undefined && /^-?\d+$/.test(text) ? BigInt(text) : undefined;
}

function sourceInfo(raw: unknown, ctx: DecodeContext): SourceInfo | null {
  if (!isObject(raw)) return null;
  const snapshot = raw.snapshot;
  const info: SourceInfo = {
    connector: String(raw.connector ?? ""),
    name: String(raw.name ?? ""),
    tsMs: typeof raw.ts_ms === "number" ? raw.ts_ms : 0,
    // Streaming events carry "false" (the schema default) or null; very old ones a boolean.
    snapshot:
      snapshot === true
        ? "true"
        : typeof snapshot === "string" && snapshotMarkers.has(snapshot)
          ? (snapshot as SnapshotMarker)
          : false,
  };
  const lsn = bigintField(raw.lsn, ctx, "lsn");
  if (lsn !== undefined) info.lsn = lsn;
  const txId = bigintField(raw.txId, ctx, "txId");
  if (txId !== undefined) info.txId = txId;
  if ("gtid" in raw) info.gtid = typeof raw.gtid === "string" ? raw.gtid : null;
  if (typeof raw.file === "string") info.file = raw.file;
  const pos = bigintField(raw.pos, ctx, "pos");
  if (pos !== undefined) info.pos = pos;
  if (typeof raw.row === "number") info.row = raw.row;
  const serverId = bigintField(raw.server_id, ctx, "server_id");
  if (serverId !== undefined) info.serverId = serverId;
  return info;
}

function tableOf(source: SourceInfo | null, raw: unknown, topic: string): TableRef {
  const s = isObject(raw) ? raw : {};
  const db = typeof s.db === "string" ? s.db : null;
  if (typeof s.table === "string" && s.table !== "") {
    const schema = typeof s.schema === "string" ? s.schema : source?.connector === "postgresql" ? null : db;
    return { database: db, schema, table: s.table };
  }
  const parts = topic.split(".");
  return { database: db, schema: parts.length >= 3 ? parts.at(-2)! : null, table: parts.at(-1)! };
}

/**
 * PostgreSQL ids are `xid:lsn`, with an lsn that differs per event of one transaction; group by the
 * xid. MySQL GTIDs (`uuid:seq`), MariaDB GTIDs (`d-s-n`) and `file=…,pos=…` ids never look like that.
 */
function transactionGroup(id: string): string {
  return /^\d+:\d+$/.test(id) ? id.slice(0, id.indexOf(":")) : id;
}

function transactionRef(raw: unknown): TransactionRef | null {
  if (!isObject(raw) || typeof raw.id !== "string") return null;
  return {
    id: raw.id,
    group: transactionGroup(raw.id),
    totalOrder: Number(raw.total_order ?? 0),
    dataCollectionOrder: Number(raw.data_collection_order ?? 0),
  };
}

function transactionBoundary(payload: Payload, at: Coordinates): TransactionBoundary {
  const status = payload.status;
  if (status !== "BEGIN" && status !== "END")
    envelopeError(`transaction status ${preview(JSON.stringify(status) ?? "undefined", 40)}`);
  const id = String(payload.id ?? "");
  const collections = Array.isArray(payload.data_collections) ? payload.data_collections : null;
  return {
    op: status === "BEGIN" ? "begin" : "end",
    at,
    id,
    group: transactionGroup(id),
    tsMs: Number(payload.ts_ms ?? 0),
    eventCount: typeof payload.event_count === "number" ? payload.event_count : null,
    dataCollections:
      collections?.map((c) => ({
        dataCollection: String((c as Payload).data_collection ?? ""),
        eventCount: Number((c as Payload).event_count ?? 0),
      })) ?? null,
  };
}
