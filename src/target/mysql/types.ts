/** Decoded column types → MySQL/MariaDB DDL types, and decoded values → query parameters. */
import type { ColumnType } from "../../decode/index.ts";
import { UNCHANGED, type Value } from "../../decode/values.ts";

const quoteList = (labels: string[]) => labels.map((l) => `'${l.replaceAll("'", "''")}'`).join(",");

export function mysqlType(type: ColumnType, isKey: boolean): string {
  const digits = (d: number | undefined) => Math.min(d ?? 6, 6);
  switch (type.kind) {
    case "boolean":
      return "tinyint(1)";
    case "int8":
      return "tinyint";
    case "int16":
      return "smallint";
    case "int32":
      return "int";
    case "int64":
      return "bigint";
    case "float32":
      return "float";
    case "float64":
      return "double";
    // Key columns must be indexable, so they get bounded types.
    case "string":
    case "xml":
    case "ltree":
    case "tsvector":
    case "interval":
      return isKey ? "varchar(255)" : "longtext";
    case "bytes":
      return isKey ? "varbinary(255)" : "longblob";
    case "decimal":
      return type.precision !== undefined && type.scale !== undefined
        ? `decimal(${Math.min(type.precision, 65)},${Math.min(type.scale, 30)})`
        : "decimal(65,30)";
    case "date":
      return "date";
    case "time":
      return `time(${digits(type.fractionDigits)})`;
    case "timestamp":
    case "timestamptz":
      // DATETIME holds the UTC wall time without TIMESTAMP's 1970-2038 range.
      return `datetime(${digits(type.fractionDigits)})`;
    case "timetz":
      return "varchar(32)";
    case "year":
      return "year";
    case "duration":
      return "bigint";
    case "json":
    case "array":
    case "map":
    case "struct":
      return "json";
    case "uuid":
      return "char(36)";
    case "enum":
      return type.allowed?.length ? `enum(${quoteList(type.allowed)})` : "varchar(255)";
    case "enum-set":
      return type.allowed?.length ? `set(${quoteList(type.allowed)})` : "varchar(255)";
    case "bits":
      return type.length && type.length <= 64 ? `bit(${type.length})` : "varbinary(255)";
    case "geometry":
    case "geography":
      return "geometry";
    case "point":
      return "point";
  }
}

/** The placeholder for a column: spatial columns take WKB through a conversion function. */
export function mysqlPlaceholder(type: ColumnType | undefined): string {
  return type?.kind === "geometry" || type?.kind === "geography" || type?.kind === "point"
    ? "ST_GeomFromWKB(?)"
    : "?";
}

/** A decoded value as the parameter MySQL stores into a column of `kind`. */
export type MysqlParam = string | number | Buffer | null;

export function mysqlParam(value: Value, type: ColumnType | undefined): MysqlParam {
  if (value === null || value === UNCHANGED) return null;
  if (typeof value === "bigint") return value.toString();
  if (typeof value === "boolean") return value ? 1 : 0;
  if (typeof value === "string") {
    switch (type?.kind) {
      case "timestamp":
        return value.replace("T", " ");
      case "timestamptz":
        return value.replace("T", " ").replace(/(Z|[+-]\d\d:\d\d)$/, "");
      case "bits":
        return bitsToBuffer(value);
      case "duration":
        return durationMicros(value);
      default:
        return value;
    }
  }
  if (typeof value === "number" || Buffer.isBuffer(value)) return value;
  if (typeof value !== "object") return null;
  if (!Array.isArray(value) && "wkb" in value && Buffer.isBuffer(value.wkb)) return value.wkb;
  return JSON.stringify(value, (_, v) =>
    typeof v === "bigint" ? v.toString() : Buffer.isBuffer(v) ? v.toString("base64") : v,
  );
}

/** "0101…" (most significant first) → the big-endian bytes a BIT(n) column takes. */
function bitsToBuffer(bits: string): Buffer {
  const bytes = Buffer.alloc(Math.ceil(bits.length / 8));
  for (let i = 0; i < bits.length; i++) {
    if (bits[bits.length - 1 - i] === "1") bytes[bytes.length - 1 - (i >> 3)]! |= 1 << (i & 7);
  }
  return bytes;
}

function durationMicros(text: string): string {
  const m = /^(-?)PT(\d+)(?:\.(\d+))?S$/.exec(text);
  if (!m) return text;
  const micros = BigInt(m[2]!) * 1_000_000n + BigInt((m[3] ?? "").padEnd(6, "0"));
  return `${m[1]}${micros}`;
}
