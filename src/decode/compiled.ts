/**
 * What a value schema is, decided once per schema: a Debezium envelope, a control record, or a
 * flattened row (ExtractNewRecordState). Row decoders are compiled here and cached with it.
 */
import { type Column, type CompiledField, compileField } from "./columns.ts";
import { type ConnectSchema, fieldOf } from "./schema.ts";

export type CompiledValue =
  | { shape: "envelope"; before: CompiledField | null; after: CompiledField | null; columns: Column[] }
  | { shape: "flattened"; row: CompiledField; columns: Column[] }
  | { shape: "heartbeat" }
  | { shape: "transaction" }
  | { shape: "schema-change" };

export function compileValue(schema: ConnectSchema): CompiledValue {
  const name = schema.name ?? "";
  if (name === "io.debezium.connector.common.Heartbeat") return { shape: "heartbeat" };
  if (name === "io.debezium.connector.common.TransactionMetadataValue") return { shape: "transaction" };
  if (name.endsWith(".SchemaChangeValue")) return { shape: "schema-change" };
  if (
    schema.type === "struct" &&
    (name.endsWith(".Envelope") || (fieldOf(schema, "op") && fieldOf(schema, "source")))
  ) {
    // before and after normally share one row schema (m events have neither); each is compiled
    // from its own declaration so that a record disagreeing with itself is caught, not trusted.
    const compileRow = (name: string) => {
      const rowSchema = fieldOf(schema, name);
      return rowSchema ? compileField({ ...rowSchema, optional: true }, name) : null;
    };
    const before = compileRow("before");
    const after = compileRow("after");
    return { shape: "envelope", before, after, columns: (after ?? before)?.type.fields ?? [] };
  }
  const row = compileField(schema, "row");
  return { shape: "flattened", row, columns: row.type.fields ?? [] };
}

export interface CompiledKey {
  field: CompiledField;
  columns: string[];
}

export function compileKey(schema: ConnectSchema): CompiledKey {
  const field = compileField(schema, "key");
  return { field, columns: (field.type.fields ?? []).map((c) => c.name) };
}
