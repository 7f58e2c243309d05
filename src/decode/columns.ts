/**
 * Compiles a Connect field schema into a column type (what the target table needs to know) and a
 * decoder (what each value becomes). Compiled once per distinct schema and cached with it.
 */
import { ShadowdbError } from "../errors.ts";
import { DecodeContext } from "./context.ts";
import { MAX_BITS, MAX_FRACTION_DIGITS, MAX_INTEGER_DIGITS, preview } from "./limits.ts";
import {
  checkScale,
  decimalFromBase64,
  decimalFromNumberText,
  decimalFromParts,
  strictBase64,
  strictHex,
} from "./numeric.ts";
import type { ConnectSchema } from "./schema.ts";
import { dateFromEpochDays, durationFromMicros, localDateTime, timeOfDay, type Unit } from "./temporal.ts";
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

export const PLACEHOLDER = "__debezium_unavailable_value";
const PLACEHOLDER_BASE64 = Buffer.from(PLACEHOLDER).toString("base64");
const PLACEHOLDER_CODES = JSON.stringify([...Buffer.from(PLACEHOLDER)]);
// UUID.nameUUIDFromBytes(placeholder): how the TOAST marker looks in a uuid[] column.
const PLACEHOLDER_UUID = "b68a35a7-17ad-35b3-af2a-ae46edb4545a";

function mismatch(field: string, expected: string, raw: unknown): never {
  const got = raw === null ? "null" : Array.isArray(raw) ? "array" : typeof raw;
  throw new ShadowdbError(
    "DECODE_SCHEMA_MISMATCH",
    `field ${preview(field)}: expected ${expected}, got ${got}`,
  );
}

function badValue(field: string, what: string): never {
  throw new ShadowdbError("DECODE_BAD_VALUE", `field ${preview(field)}: ${what}`);
}

function int(raw: unknown, field: string): number {
  if (typeof raw !== "number" || !Number.isInteger(raw)) mismatch(field, "an integer", raw);
  return raw;
}

/** `key` is the JSON member name the value was read from (for text recovery), `path` names it in errors. */
function int64(raw: unknown, ctx: DecodeContext, key: string, path: string): bigint {
  if (typeof raw !== "number" || !Number.isInteger(raw)) mismatch(path, "an int64", raw);
  if (Number.isSafeInteger(raw)) return BigInt(raw);
  const text = ctx.numberText(key, raw);
  if (text === undefined || !/^-?\d+$/.test(text)) badValue(path, "int64 source text not found");
  return BigInt(text);
}

function float(raw: unknown, field: string): number {
  if (typeof raw === "number") return raw;
  // Jackson writes non-finite doubles as strings.
  if (raw === "NaN") return Number.NaN;
  if (raw === "Infinity") return Number.POSITIVE_INFINITY;
  if (raw === "-Infinity") return Number.NEGATIVE_INFINITY;
  return mismatch(field, "a number", raw);
}

function str(raw: unknown, field: string): string {
  if (typeof raw !== "string") mismatch(field, "a string", raw);
  return raw;
}

function base64(raw: unknown, field: string): Buffer {
  return strictBase64(str(raw, field), field);
}

const primitive: Record<string, { type: ColumnType["kind"]; decode: Decoder }> = {
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
    decode: (raw, _, f) => (raw === PLACEHOLDER_BASE64 || raw === PLACEHOLDER ? UNCHANGED : base64(raw, f)),
  },
};

const binarySourceTypes = /^(BYTEA|BLOB|TINYBLOB|MEDIUMBLOB|LONGBLOB|BINARY|VARBINARY)$/i;

function stringBytes(mode: DecodeContext["binaryMode"], text: string, field: string): Buffer {
  switch (mode) {
    case "hex":
      return strictHex(text, field);
    case "base64-url-safe":
      return strictBase64(text, field, "base64url");
    case "base64":
    case "bytes":
      return strictBase64(text, field);
  }
}

/** decimal.handling.mode=string with the source type propagated: text a numeric column can take. */
const decimalSourceTypes = /^(NUMERIC|DECIMAL|DEC|FIXED)$/i;
const MAX_DECIMAL_TEXT = MAX_INTEGER_DIGITS + MAX_FRACTION_DIGITS + 2;

function decimalText(raw: unknown, _: DecodeContext, field: string): Value {
  if (raw === PLACEHOLDER) return UNCHANGED;
  const text = str(raw, field);
  if (text.length > MAX_DECIMAL_TEXT)
    throw new ShadowdbError(
      "DECODE_VALUE_TOO_LARGE",
      `field ${preview(field)}: decimal text of ${text.length} characters is beyond any target`,
    );
  return text;
}

const temporalInt: Record<string, { kind: ColumnKind; unit: Unit; of: "date" | "time" | "timestamp" }> = {
  "io.debezium.time.Time": { kind: "time", unit: "ms", of: "time" },
  "io.debezium.time.MicroTime": { kind: "time", unit: "us", of: "time" },
  "io.debezium.time.NanoTime": { kind: "time", unit: "ns", of: "time" },
  "org.apache.kafka.connect.data.Time": { kind: "time", unit: "ms", of: "time" },
  "io.debezium.time.Timestamp": { kind: "timestamp", unit: "ms", of: "timestamp" },
  "io.debezium.time.MicroTimestamp": { kind: "timestamp", unit: "us", of: "timestamp" },
  "io.debezium.time.NanoTimestamp": { kind: "timestamp", unit: "ns", of: "timestamp" },
  "org.apache.kafka.connect.data.Timestamp": { kind: "timestamp", unit: "ms", of: "timestamp" },
};
const digitsOf: Record<Unit, number> = { ms: 3, us: 6, ns: 9 };

// PostgreSQL ±infinity as Debezium encodes them: MicroTimestamp, Timestamp (ms) and, in
// nanoseconds mode, Long.MAX/MIN (all recorded or documented; no real timestamp comes close).
const positiveInfinity = new Set([9223372036825200000n, 9223372036825200n, 9223372036854775807n]);
const negativeInfinity = new Set([-9223372036832400000n, -9223372036832400n, -9223372036854775808n]);

// PostgreSQL's date ±infinity as Debezium 3.5 sends them, streaming and snapshot (recorded):
// all far below the earliest date PostgreSQL can store (4713 BC, day -2440588).
const dateInfinity = new Map([
  [-2147472692, "infinity"],
  [-2147472691, "-infinity"],
  [-622191234, "infinity"],
  [-625821272, "-infinity"],
]);

const zonedTimestamp =
  /^(?:[+-]?\d{4,}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?(?:Z|[+-]\d\d:\d\d(?::\d\d)?)|-?infinity)$/;
/** Longer than any ISO-8601 timestamp Debezium writes (a 6-digit year, 9 fraction digits, an offset). */
const MAX_TEMPORAL_TEXT = 64;
const zonedTime = /^\d\d:\d\d:\d\d(?:\.\d{1,9})?(?:Z|[+-]\d\d(?::\d\d(?::\d\d)?)?)$/;

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

function withPlaceholderString(decode: Decoder): Decoder {
  return (raw, ctx, f) => (raw === PLACEHOLDER ? UNCHANGED : decode(raw, ctx, f));
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

function compileType(schema: ConnectSchema, field: string): { type: ColumnType; decode: Decoder } {
  const base = { optional: schema.optional, ...(schema.name && { logical: schema.name }) };
  const source = sourceType(schema);
  const withSource = source ? { ...base, source } : base;
  const name = schema.name;

  if (name !== undefined) {
    const temporal = temporalInt[name];
    if (temporal) {
      const unit = temporal.unit;
      const read = (raw: unknown, ctx: DecodeContext, f: string) =>
        schema.type === "int64" ? int64(raw, ctx, field, f) : BigInt(int(raw, f));
      const type: ColumnType = { ...withSource, kind: temporal.kind, fractionDigits: digitsOf[unit] };
      if (temporal.of === "time")
        return { type, decode: (raw, ctx, f) => timeOfDay(read(raw, ctx, f), unit) };
      return {
        type,
        decode: (raw, ctx, f) => {
          const v = read(raw, ctx, f);
          if (positiveInfinity.has(v)) return "infinity";
          if (negativeInfinity.has(v)) return "-infinity";
          return localDateTime(v, unit);
        },
      };
    }
    switch (name) {
      case "org.apache.kafka.connect.data.Decimal": {
        // Checked when the schema is compiled: every value of it would be refused anyway.
        const scale = checkScale(Number(schema.parameters?.scale ?? "0"), field);
        const precision = schema.parameters?.["connect.decimal.precision"];
        return {
          type: {
            ...withSource,
            kind: "decimal",
            scale,
            ...(precision !== undefined && { precision: Number(precision) }),
          },
          decode: (raw, ctx, f) => {
            if (typeof raw === "string") return decimalFromBase64(raw, scale, f, ctx);
            if (typeof raw === "number") {
              const text = ctx.numberText(field, raw);
              const exact = text === undefined ? undefined : decimalFromNumberText(text, scale, f, ctx);
              return exact ?? badValue(f, `decimal ${raw} does not fit scale ${scale}`);
            }
            return mismatch(f, "a base64 string or number (Decimal)", raw);
          },
        };
      }
      case "io.debezium.data.VariableScaleDecimal":
        return {
          type: { ...withSource, kind: "decimal" },
          decode: (raw, ctx, f) => {
            if (typeof raw !== "object" || raw === null) return mismatch(f, "a {scale, value} struct", raw);
            const { scale, value } = raw as { scale?: unknown; value?: unknown };
            return decimalFromParts(str(value, `${f}.value`), int(scale, `${f}.scale`), f, ctx);
          },
        };
      case "io.debezium.time.Date":
      case "org.apache.kafka.connect.data.Date":
        return {
          type: { ...withSource, kind: "date" },
          decode: (raw, _, f) => {
            const days = int(raw, f);
            return dateInfinity.get(days) ?? dateFromEpochDays(days);
          },
        };
      case "io.debezium.time.ZonedTimestamp":
        return {
          type: { ...withSource, kind: "timestamptz" },
          decode: (raw, _, f) => {
            const text = str(raw, f);
            // Length first: the pattern backtracks through a long run of digits (5 MB: 350 ms).
            return text.length <= MAX_TEMPORAL_TEXT && zonedTimestamp.test(text)
              ? text
              : badValue(f, `not an ISO-8601 timestamp with offset: ${preview(text, 60)}`);
          },
        };
      case "io.debezium.time.ZonedTime":
        return {
          type: { ...withSource, kind: "timetz" },
          decode: (raw, _, f) => {
            const text = str(raw, f);
            return text.length <= MAX_TEMPORAL_TEXT && zonedTime.test(text)
              ? text
              : badValue(f, `not an ISO-8601 time with offset: ${preview(text, 60)}`);
          },
        };
      case "io.debezium.time.IsoDate":
        return {
          type: { ...withSource, kind: "date" },
          decode: (raw, _, f) => str(raw, f).replace(/Z$/, ""),
        };
      case "io.debezium.time.IsoTime":
        return {
          type: { ...withSource, kind: "time" },
          decode: (raw, _, f) => str(raw, f).replace(/Z$/, ""),
        };
      case "io.debezium.time.IsoTimestamp":
        return {
          type: { ...withSource, kind: "timestamp" },
          decode: (raw, _, f) => str(raw, f).replace(/Z$/, ""),
        };
      case "io.debezium.time.Year":
        return { type: { ...withSource, kind: "year" }, decode: (raw, _, f) => int(raw, f) };
      case "io.debezium.time.MicroDuration":
        return {
          type: { ...withSource, kind: "duration" },
          decode: (raw, ctx, f) => durationFromMicros(int64(raw, ctx, field, f)),
        };
      case "io.debezium.time.Interval":
        return { type: { ...withSource, kind: "interval" }, decode: (raw, _, f) => str(raw, f) };
      case "io.debezium.data.Json":
        return {
          type: { ...withSource, kind: "json" },
          decode: withPlaceholderString((raw, _, f) => str(raw, f)),
        };
      case "io.debezium.data.Uuid":
        return { type: { ...withSource, kind: "uuid" }, decode: (raw, _, f) => str(raw, f) };
      case "io.debezium.data.Xml":
        return {
          type: { ...withSource, kind: "xml" },
          decode: withPlaceholderString((raw, _, f) => str(raw, f)),
        };
      case "io.debezium.data.Ltree":
        return { type: { ...withSource, kind: "ltree" }, decode: (raw, _, f) => str(raw, f) };
      case "io.debezium.data.Tsvector":
        return {
          type: { ...withSource, kind: "tsvector" },
          decode: withPlaceholderString((raw, _, f) => str(raw, f)),
        };
      case "io.debezium.data.Enum":
      case "io.debezium.data.EnumSet": {
        const allowed = schema.parameters?.allowed;
        return {
          type: {
            ...withSource,
            kind: name === "io.debezium.data.Enum" ? "enum" : "enum-set",
            ...(allowed !== undefined && { allowed: allowed === "" ? [] : allowed.split(",") }),
          },
          decode: (raw, _, f) => str(raw, f),
        };
      }
      case "io.debezium.data.Bits": {
        const declared = Number(schema.parameters?.length ?? "0");
        // bit(n) pads to n. BitSet bytes drop leading zeros, so a varbit (unbounded: Integer.MAX,
        // or named by the propagated source type) shows its significant bits only.
        const varying = declared >= 2147483647 || /^(VARBIT|BIT VARYING)$/i.test(source?.type ?? "");
        return {
          type: { ...withSource, kind: "bits", ...(!varying && { length: declared }) },
          decode: (raw, _, f) => {
            const bytes = base64(raw, f);
            const length = varying ? significantBits(bytes) : declared;
            if (length > MAX_BITS) {
              throw new ShadowdbError(
                "DECODE_VALUE_TOO_LARGE",
                `field ${preview(f)}: ${length} bits is beyond any target (${MAX_BITS})`,
              );
            }
            return bitString(bytes, length);
          },
        };
      }
      case "io.debezium.data.geometry.Geometry":
      case "io.debezium.data.geometry.Geography":
        return {
          type: { ...withSource, kind: name.endsWith("Geometry") ? "geometry" : "geography" },
          decode: (raw, _, f) => {
            if (typeof raw !== "object" || raw === null) return mismatch(f, "a {wkb, srid} struct", raw);
            const { wkb, srid } = raw as { wkb?: unknown; srid?: unknown };
            return {
              wkb: base64(wkb, `${f}.wkb`),
              srid: srid === null || srid === undefined ? null : int(srid, f),
            };
          },
        };
      case "io.debezium.data.geometry.Point":
        return {
          type: { ...withSource, kind: "point" },
          decode: (raw, _, f) => {
            if (typeof raw !== "object" || raw === null)
              return mismatch(f, "a {x, y, wkb, srid} struct", raw);
            const p = raw as { x?: unknown; y?: unknown; wkb?: unknown; srid?: unknown };
            return {
              x: float(p.x, `${f}.x`),
              y: float(p.y, `${f}.y`),
              wkb: p.wkb === null || p.wkb === undefined ? null : base64(p.wkb, `${f}.wkb`),
              srid: p.srid === null || p.srid === undefined ? null : int(p.srid, `${f}.srid`),
            };
          },
        };
      default:
        if (/^(io\.debezium\.(time|data)\.|org\.apache\.kafka\.connect\.data\.)/.test(name)) {
          throw new ShadowdbError(
            "DECODE_UNKNOWN_LOGICAL_TYPE",
            `field ${field}: logical type ${name} (${schema.type}) is not supported`,
          );
        }
      // Any other name (a struct's record name, a custom converter's tag) decodes by its Connect type.
    }
  }

  switch (schema.type) {
    case "array":
      return compileArray(schema, field, withSource);
    case "map": {
      const values = compileField(schema.values!, `${field}[value]`);
      return {
        type: { ...withSource, kind: "map", values: values.type },
        decode: (raw, ctx, f) => {
          if (typeof raw !== "object" || raw === null) return mismatch(f, "an object (map)", raw);
          if (Array.isArray(raw)) return mismatch(f, "an object with string keys (map)", raw);
          const entries = Object.entries(raw as Record<string, unknown>);
          if (entries.length === 1 && entries[0]![0] === PLACEHOLDER) return UNCHANGED;
          const out: Record<string, Value> = {};
          for (const [k, v] of entries) out[k] = values.decode(v, ctx, `${f}.${k}`);
          return out;
        },
      };
    }
    case "struct": {
      const fields = schema.fields!.map((s) => compileField(s, s.field!));
      // Each field's path (for errors) per path of the struct, built once rather than per value.
      const paths = new Map<string, string[]>();
      const pathsFor = (f: string) => {
        let names = paths.get(f);
        if (!names) {
          names = fields.map((c) => `${f}.${c.name}`);
          if (paths.size < 64) paths.set(f, names);
        }
        return names;
      };
      return {
        type: {
          ...withSource,
          kind: "struct",
          fields: fields.map(({ name: n, type }) => ({ name: n, type })),
        },
        decode: (raw, ctx, f) => {
          if (typeof raw !== "object" || raw === null || Array.isArray(raw))
            return mismatch(f, "an object", raw);
          const obj = raw as Record<string, unknown>;
          const out: Record<string, Value> = {};
          const names = pathsFor(f);
          for (let i = 0; i < fields.length; i++) {
            const c = fields[i]!;
            out[c.name] = c.decode(obj[c.name], ctx, names[i]!);
          }
          return out;
        },
      };
    }
    case "int64":
      return { type: { ...withSource, kind: "int64" }, decode: (raw, ctx, f) => int64(raw, ctx, field, f) };
    default: {
      const p = primitive[schema.type]!;
      if (schema.type === "string" && source?.type && binarySourceTypes.test(source.type)) {
        // binary.handling.mode base64/hex: a bytea/BLOB column arrives as a string; its source type tells.
        return {
          type: { ...withSource, kind: "bytes" },
          decode: (raw, ctx, f) =>
            raw === PLACEHOLDER ? UNCHANGED : stringBytes(ctx.binaryMode, str(raw, f), f),
        };
      }
      if (schema.type === "string" && source?.type && decimalSourceTypes.test(source.type)) {
        return { type: { ...withSource, kind: p.type }, decode: decimalText };
      }
      return { type: { ...withSource, kind: p.type }, decode: p.decode };
    }
  }
}

function compileArray(
  schema: ConnectSchema,
  field: string,
  base: Omit<ColumnType, "kind">,
): { type: ColumnType; decode: Decoder } {
  const items = compileField(schema.items!, field);
  const itemIsInt64 = schema.items!.type === "int64" && items.type.kind === "int64";
  return {
    type: { ...base, kind: "array", items: items.type },
    decode: (raw, ctx, f) => {
      if (!Array.isArray(raw)) return mismatch(f, "an array", raw);
      if (
        raw.length === 1 &&
        (raw[0] === PLACEHOLDER || raw[0] === PLACEHOLDER_BASE64 || raw[0] === PLACEHOLDER_UUID)
      ) {
        return UNCHANGED;
      }
      if (
        raw.length === PLACEHOLDER.length &&
        typeof raw[0] === "number" &&
        JSON.stringify(raw) === PLACEHOLDER_CODES
      ) {
        return UNCHANGED;
      }
      if (itemIsInt64 && raw.some((v) => typeof v === "number" && !Number.isSafeInteger(v))) {
        const texts = ctx.arrayTexts(field, raw) ?? badValue(f, "int64 array source text not found");
        return texts.map((t, i) => (t === "null" ? items.decode(null, ctx, `${f}[${i}]`) : BigInt(t)));
      }
      return raw.map((v, i) => items.decode(v, ctx, `${f}[${i}]`));
    },
  };
}

function significantBits(bytes: Buffer): number {
  let last = bytes.length - 1;
  while (last >= 0 && bytes[last] === 0) last--;
  if (last < 0) return 0;
  return last * 8 + (32 - Math.clz32(bytes[last]!));
}

/** Each byte's eight bits, most significant first. */
const BYTE_BITS = Array.from({ length: 256 }, (_, b) => b.toString(2).padStart(8, "0"));

/**
 * Debezium's Bits are java.util.BitSet bytes (bit i has weight 2^i); printed most significant
 * first, a byte at a time (a bit at a time took seconds at PostgreSQL's 83886080 bits).
 */
function bitString(bytes: Buffer, length: number): string {
  if (!(length > 0)) return "";
  const parts: string[] = [];
  const top = (length - 1) >> 3;
  // The top byte holds the bits above the last whole byte.
  parts.push(BYTE_BITS[bytes[top] ?? 0]!.slice(8 - (((length - 1) & 7) + 1)));
  for (let i = top - 1; i >= 0; i--) parts.push(BYTE_BITS[bytes[i] ?? 0]!);
  return parts.join("");
}
