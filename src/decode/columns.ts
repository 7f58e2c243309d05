/**
 * Compiles a Connect field schema into a column type (what the target table needs to know) and a
 * decoder (what each value becomes). Compiled once per distinct schema and cached with it.
 */
import { ShadowdbError } from "../errors.ts";
import { DecodeContext } from "./context.ts";
import type { ConnectSchema } from "./schema.ts";
import { compileBits } from "./types/binary.ts";
import { compileArray, compileMap, compileStruct } from "./types/containers.ts";
import { compileDecimal } from "./types/decimal.ts";
import { compileGeometry } from "./types/geometry.ts";
import { compilePrimitive } from "./types/primitive.ts";
import { type Compiled, mismatch, type TypeBase } from "./types/read.ts";
import { compileTemporal } from "./types/temporal.ts";
import { compileText } from "./types/text.ts";
import { UNCHANGED, type Value } from "./values.ts";

export type ColumnKind =
  | "boolean"
  | "int8"
  | "int16"
  | "int32"
  | "int64"
  | "float32"
  | "float64"
  | "string"
  | "bytes"
  | "decimal"
  | "date"
  | "time"
  | "timestamp"
  | "timestamptz"
  | "timetz"
  | "year"
  | "duration"
  | "interval"
  | "json"
  | "uuid"
  | "xml"
  | "ltree"
  | "tsvector"
  | "enum"
  | "enum-set"
  | "bits"
  | "geometry"
  | "geography"
  | "point"
  | "array"
  | "map"
  | "struct";

export interface ColumnType {
  kind: ColumnKind;
  optional: boolean;
  /** The Connect schema name (logical type), when there is one. */
  logical?: string;
  /** decimal: digits after the point (undefined: variable scale). */
  scale?: number;
  /** decimal: total digits, when the connector knows them. */
  precision?: number;
  /** time, timestamp: fraction digits the encoding carries (3, 6 or 9). */
  fractionDigits?: number;
  /** bits: number of bits. */
  length?: number;
  /** enum, enum-set: the allowed labels. */
  allowed?: string[];
  items?: ColumnType;
  values?: ColumnType;
  fields?: Column[];
  /** From `column.propagate.source.type`: the source's own type name, length and scale. */
  source?: { type?: string; length?: number; scale?: number };
  /** The source column's default, decoded as a value of this type (absent: none, or not decodable). */
  default?: Value;
}

export interface Column {
  name: string;
  type: ColumnType;
}

export type Decoder = (raw: unknown, ctx: DecodeContext, field: string) => Value;

export interface CompiledField {
  name: string;
  type: ColumnType;
  decode: Decoder;
}

function sourceType(schema: ConnectSchema): ColumnType["source"] {
  const p = schema.parameters;
  const type = p?.["__debezium.source.column.type"];
  if (type === undefined) return undefined;
  const length = p?.["__debezium.source.column.length"];
  const scale = p?.["__debezium.source.column.scale"];
  return {
    type,
    ...(length !== undefined && { length: Number(length) }),
    ...(scale !== undefined && { scale: Number(scale) }),
  };
}

/** Compiles one field; `field` names it in error messages. */
export function compileField(schema: ConnectSchema, field: string): CompiledField {
  const { type, decode } = compileType(schema, field);
  const optional = schema.optional;
  if (schema.default !== undefined) {
    // Decoded once with the schema, like any value; a default that does not decode is left out.
    try {
      const value = decode(schema.default, new DecodeContext(JSON.stringify(schema.default), "bytes"), field);
      if (value !== UNCHANGED) type.default = value;
    } catch {}
  }
  return {
    name: field,
    type,
    decode: (raw, ctx, f) => {
      if (raw === null || raw === undefined) {
        if (!optional) mismatch(f, `a value (${field} is not optional)`, null);
        return null;
      }
      return decode(raw, ctx, f);
    },
  };
}

/** By logical type when the schema names a known one, else by Connect type. */
function compileType(schema: ConnectSchema, field: string): Compiled {
  const common = { optional: schema.optional, ...(schema.name && { logical: schema.name }) };
  const source = sourceType(schema);
  const base: TypeBase = source ? { ...common, source } : common;
  const name = schema.name;
  if (name !== undefined) {
    const logical =
      compileTemporal(name, schema, field, base) ??
      compileDecimal(name, schema, field, base) ??
      compileText(name, schema, base) ??
      compileBits(name, schema, base) ??
      compileGeometry(name, base);
    if (logical) return logical;
    if (/^(io\.debezium\.(time|data)\.|org\.apache\.kafka\.connect\.data\.)/.test(name)) {
      throw new ShadowdbError(
        "DECODE_UNKNOWN_LOGICAL_TYPE",
        `field ${field}: logical type ${name} (${schema.type}) is not supported`,
      );
    }
    // Any other name (a struct's record name, a custom converter's tag) decodes by its Connect type.
  }
  switch (schema.type) {
    case "array":
      return compileArray(schema, field, base, compileField);
    case "map":
      return compileMap(schema, field, base, compileField);
    case "struct":
      return compileStruct(schema, base, compileField);
    default:
      return compilePrimitive(schema, field, base);
  }
}
