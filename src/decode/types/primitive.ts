/**
 * Connect's own types, for a field without a logical type: integers, floats, booleans, strings
 * and bytes. A string whose propagated source type is binary or numeric is decoded as that.
 */
import type { ColumnKind, Decoder } from "../columns.ts";
import type { ConnectSchema } from "../schema.ts";
import { UNCHANGED } from "../values.ts";
import { binarySourceTypes, compileBinaryText } from "./binary.ts";
import { decimalSourceTypes, decimalText } from "./decimal.ts";
import {
  base64,
  type Compiled,
  float,
  int,
  int64,
  isPlaceholderBytes,
  mismatch,
  PLACEHOLDER,
  PLACEHOLDER_BASE64,
  str,
  type TypeBase,
} from "./read.ts";

const primitive: Record<string, { type: ColumnKind; decode: Decoder }> = {
  int8: { type: "int8", decode: (raw, _, f) => int(raw, f) },
  int16: { type: "int16", decode: (raw, _, f) => int(raw, f) },
  int32: { type: "int32", decode: (raw, _, f) => int(raw, f) },
  float: { type: "float32", decode: (raw, _, f) => float(raw, f) },
  double: { type: "float64", decode: (raw, _, f) => float(raw, f) },
  boolean: {
    type: "boolean",
    decode: (raw, _, f) => (typeof raw === "boolean" ? raw : mismatch(f, "a boolean", raw)),
  },
  string: { type: "string", decode: (raw, _, f) => (raw === PLACEHOLDER ? UNCHANGED : str(raw, f)) },
  bytes: {
    type: "bytes",
    decode: (raw, _, f) =>
      raw === PLACEHOLDER_BASE64 || raw === PLACEHOLDER || isPlaceholderBytes(raw)
        ? UNCHANGED
        : base64(raw, f),
  },
};

export function compilePrimitive(schema: ConnectSchema, field: string, base: TypeBase): Compiled {
  if (schema.type === "int64")
    return { type: { ...base, kind: "int64" }, decode: (raw, ctx, f) => int64(raw, ctx, field, f) };
  const p = primitive[schema.type]!;
  const sourceType = base.source?.type;
  if (schema.type === "string" && sourceType && binarySourceTypes.test(sourceType))
    return compileBinaryText(base);
  if (schema.type === "string" && sourceType && decimalSourceTypes.test(sourceType)) {
    return { type: { ...base, kind: p.type }, decode: decimalText };
  }
  return { type: { ...base, kind: p.type }, decode: p.decode };
}
