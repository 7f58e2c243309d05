/** Decoded column types → PostgreSQL DDL types, and decoded values → query parameters. */
import type { ColumnType } from "../../decode/index.ts";
import { UNCHANGED, type Value } from "../../decode/values.ts";

export function postgresType(type: ColumnType): string {
  const digits = (d: number | undefined) => Math.min(d ?? 6, 6);
  switch (type.kind) {
    case "boolean":
      return "boolean";
    case "int8":
    case "int16":
      return "smallint";
    case "int32":
      return "integer";
    case "int64":
      return "bigint";
    case "float32":
      return "real";
    case "float64":
      return "double precision";
    case "string":
    case "enum":
    case "enum-set":
      return "text";
    case "bytes":
      return "bytea";
    case "decimal":
      return type.precision !== undefined && type.scale !== undefined
        ? `numeric(${type.precision},${type.scale})`
        : "numeric";
    case "date":
      return "date";
    case "time":
      return `time(${digits(type.fractionDigits)})`;
    case "timestamp":
      return `timestamp(${digits(type.fractionDigits)})`;
    case "timestamptz":
      return "timestamptz";
    case "timetz":
      return "timetz";
    case "year":
      return "integer";
    case "duration":
    case "interval":
      return "interval";
    case "json":
      return "json";
    case "uuid":
      return "uuid";
    case "xml":
      return "xml";
    // ltree lives in an extension the target may lack; its text form round-trips.
    case "ltree":
      return "text";
    case "tsvector":
      return "tsvector";
    case "bits":
      return type.length ? `bit varying(${type.length})` : "bit varying";
    case "geometry":
    case "geography":
      return "bytea";
    case "point":
      return "point";
    case "array":
      return `${postgresType(type.items!)}[]`;
    case "map":
    case "struct":
      return "jsonb";
  }
}

/** Astronomical years (0 = 1 BC, as decoded) → PostgreSQL's `… BC` form; other text passes. */
function calendarText(text: string): string {
  const m = /^([+-])?(\d{4,})(-.*)$/.exec(text);
  if (!m) return text;
  const [, sign, year, rest] = m;
  const y = Number(year);
  if (sign === "-" || y === 0) {
    const bc = sign === "-" ? y + 1 : 1;
    const [date, time] = rest!.split("T");
    return `${String(bc).padStart(4, "0")}${date}${time ? ` ${time}` : ""} BC`;
  }
  return sign === "+" ? `${year}${rest}` : text;
}

/** hstore's text form: "k"=>"v", "k2"=>NULL (Debezium sends hstore as JSON text or a map). */
function hstoreText(value: Value): string {
  const map = typeof value === "string" ? (JSON.parse(value) as Record<string, string | null>) : value;
  const quote = (s: string) => `"${s.replaceAll("\\", "\\\\").replaceAll('"', '\\"')}"`;
  return Object.entries(map as Record<string, unknown>)
    .map(([k, v]) => `${quote(k)}=>${v === null ? "NULL" : quote(String(v))}`)
    .join(", ");
}

/**
 * A decoded value as the parameter PostgreSQL parses into the target column: by the event's
 * type, and by the target's own type where the same event type lands in different columns.
 */
export function postgresParam(value: Value, type: ColumnType | undefined, sqlType = ""): unknown {
  if (value === null || value === UNCHANGED) return null;
  if (sqlType === "hstore") return hstoreText(value);
  if (typeof value === "boolean" && sqlType.startsWith("bit")) return value ? "1" : "0";
  if (typeof value === "bigint") return value.toString();
  // String(-0) is "0"; a float column keeps its sign.
  if (Object.is(value, -0)) return "-0";
  if (Buffer.isBuffer(value) || typeof value !== "object") {
    if (typeof value === "string" && type) {
      switch (type.kind) {
        case "date":
        case "timestamp":
        case "timestamptz":
          return calendarText(value);
        case "duration":
          return durationText(value);
        default:
          return value;
      }
    }
    return value;
  }
  if (Array.isArray(value))
    return value.map((v) => postgresParam(v, type?.items, sqlType.replace(/\[\]$/, "")));
  if (type?.kind === "point" && "x" in value) return `(${String(value.x)},${String(value.y)})`;
  if ((type?.kind === "geometry" || type?.kind === "geography") && "wkb" in value) return value.wkb;
  return JSON.stringify(value, (_, v) => (typeof v === "bigint" ? v.toString() : v));
}

/** "PT3600.5S" / "-PT1.5S" (MicroDuration as decoded) → "3600.5 seconds", which every interval input takes. */
function durationText(text: string): string {
  const m = /^(-?)PT(\d+(?:\.\d+)?)S$/.exec(text);
  return m ? `${m[1]}${m[2]} seconds` : text;
}
