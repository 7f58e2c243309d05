/**
 * The interpret step for data topics: a Debezium envelope by its `op` (row changes, truncates,
 * logical messages), or a row flattened by ExtractNewRecordState with its `__` metadata fields.
 */
import { ShadowdbError } from "../errors.ts";
import type { Column, CompiledField } from "./columns.ts";
import type { CompiledValue } from "./compiled.ts";
import type { DecodeContext } from "./context.ts";
import type { ChangeEvent, Coordinates, RowChange } from "./events.ts";
import { checkKey, type Headers, keyChange } from "./keys.ts";
import { preview } from "./limits.ts";
import { looseColumns } from "./loose.ts";
import { envelopeError, isObject, type Payload } from "./payload.ts";
import { sourceInfo, tableOf, transactionRef } from "./source-info.ts";
import type { Row } from "./values.ts";

/** The record's key, decoded: its row and its column names. */
export type DecodedKey = { row: Row; columns: string[] };

/** How a decoder reads envelopes, fixed when it is built. */
export interface EnvelopeReading {
  /** Decode every event's before image, not only a delete's. */
  everyBefore: boolean;
  /** A key-change header's text → the key row. */
  decodeKey: (text: string) => Row;
}

export function envelopeEvent(
  payload: Payload,
  compiled: Extract<CompiledValue, { shape: "envelope" }> | undefined,
  ctx: DecodeContext,
  key: DecodedKey | null,
  record: { topic: string; headers?: Headers },
  at: Coordinates,
  reading: EnvelopeReading,
): ChangeEvent {
  const source = sourceInfo(payload.source, ctx);
  const op = payload.op;
  switch (op) {
    case "c":
    case "r":
    case "u":
    case "d": {
      const before =
        op === "d" || reading.everyBefore ? rowOf(payload.before, compiled?.before, ctx, "before") : null;
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
      const change = keyChange(record.headers, reading.decodeKey);
      if (change) event.keyChange = change;
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
        content:
          typeof content === "string"
            ? Buffer.from(content, "base64")
            : Buffer.isBuffer(content)
              ? Buffer.from(content)
              : null,
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

export function flattenedEvent(
  payload: Payload,
  compiled: Extract<CompiledValue, { shape: "flattened" }> | undefined,
  ctx: DecodeContext,
  key: DecodedKey | null,
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
