/**
 * Column types as sizes that can be compared: the shadow's (parsed from the database's own type
 * text) and production's (from the event's Connect type and, with `column.propagate.source.type`,
 * the source's type name, length and scale). Schema following widens the shadow's type to hold
 * production's (widen), and the write path refuses values the shadow's type would change (fit.ts).
 */
import type { Column } from "../decode/index.ts";

export type Dialect = "postgres" | "mysql";

export type TypeShape =
  | { family: "int"; bits: 8 | 16 | 24 | 32 | 64; unsigned: boolean }
  | { family: "float"; bits: 32 | 64 }
  /** precision undefined: unconstrained (PostgreSQL's bare numeric). */
  | { family: "decimal"; precision?: number; scale: number }
  | { family: "varchar" | "char"; length: number }
  | { family: "text" }
  | { family: "temporal"; base: "timestamp" | "timestamptz" | "datetime" | "time"; digits: number }
  | { family: "enum" | "set"; labels: string[] };

const intBits: Record<string, 8 | 16 | 24 | 32 | 64> = {
  tinyint: 8,
  smallint: 16,
  int2: 16,
  mediumint: 24,
  int: 32,
  integer: 32,
  int4: 32,
  serial: 32,
  serial4: 32,
  bigint: 64,
  int8: 64,
  bigserial: 64,
  serial8: 64,
  smallserial: 16,
  serial2: 16,
};

/** `'a','b''c'` → ["a", "b'c"]: MySQL's COLUMN_TYPE doubles a quote inside a label. */
function labelsOf(list: string): string[] {
  const labels: string[] = [];
  const pattern = /'((?:[^']|'')*)'/g;
  for (const m of list.matchAll(pattern)) labels.push(m[1]!.replaceAll("''", "'"));
  return labels;
}

/**
 * The database's type text (PostgreSQL format_type, MySQL COLUMN_TYPE) as a shape; undefined for
 * types schema following leaves alone (json, bytea, user types…).
 */
export function parseSqlType(text: string, dialect: Dialect): TypeShape | undefined {
  const list = /^(enum|set)\((.*)\)$/is.exec(text.trim());
  if (list) return { family: list[1]!.toLowerCase() as "enum" | "set", labels: labelsOf(list[2]!) };
  const t = text.trim().toLowerCase();
  const m = /^([a-z ]+?)\s*(?:\(([^)]*)\))?\s*(unsigned)?\s*(zerofill)?\s*(with(?:out)? time zone)?$/.exec(t);
  if (!m) return undefined;
  const [, base = "", args, unsigned, , zone] = m;
  const [a, b] = (args ?? "").split(",").map((x) => Number(x.trim()));
  const bits = intBits[base];
  // tinyint(1) is MySQL's boolean: Debezium sends it as a boolean, nothing to widen.
  if (bits !== undefined) return { family: "int", bits, unsigned: unsigned !== undefined };
  switch (base) {
    case "real":
    case "float4":
      return { family: "float", bits: dialect === "postgres" ? 32 : 64 };
    case "float":
      return { family: "float", bits: 32 };
    case "double":
    case "double precision":
    case "float8":
      return { family: "float", bits: 64 };
    case "numeric":
    case "decimal":
      if (args === undefined) return dialect === "postgres" ? { family: "decimal", scale: 0 } : dec(10, 0);
      return dec(a!, b ?? 0);
    case "character varying":
    case "varchar":
      return args === undefined ? { family: "text" } : { family: "varchar", length: a! };
    case "character":
    case "char":
    case "bpchar":
      return { family: "char", length: args === undefined ? 1 : a! };
    case "text":
    case "longtext":
      return { family: "text" };
    case "timestamp":
    case "time": {
      const digits = args === undefined ? (dialect === "postgres" ? 6 : 0) : a!;
      if (zone === "with time zone") return base === "time" ? undefined : temporal("timestamptz", digits);
      return temporal(base, digits);
    }
    case "datetime":
      return temporal("datetime", args === undefined ? 0 : a!);
    default:
      return undefined;
  }
}

function dec(precision: number, scale: number): TypeShape {
  return { family: "decimal", precision, scale };
}

function temporal(base: "timestamp" | "timestamptz" | "datetime" | "time", digits: number): TypeShape {
  return { family: "temporal", base, digits };
}

/** Lengths PostgreSQL reports for an unbounded varchar / numeric through Debezium. */
const unbounded = 1_000_000;

/**
 * Production's type of an event column, as exact as the event tells: the propagated source type
 * where the connector sends it, else what the Connect type alone fixes (integer width, float
 * width, decimal precision and scale, enum labels).
 */
export function productionShape(column: Column, dialect: Dialect): TypeShape | undefined {
  const type = column.type;
  const source = type.source?.type?.toUpperCase();
  if (source !== undefined) {
    const name = source.replace(/\s+UNSIGNED$/, "").toLowerCase();
    const length = type.source?.length;
    const scale = type.source?.scale;
    const bits = intBits[name];
    if (bits !== undefined && type.kind !== "boolean")
      return { family: "int", bits, unsigned: source.endsWith("UNSIGNED") };
    switch (name) {
      case "varchar":
      case "character varying":
        return length === undefined || length >= unbounded
          ? { family: "text" }
          : { family: "varchar", length };
      case "char":
      case "bpchar":
      case "character":
        return length === undefined || length >= unbounded ? undefined : { family: "char", length };
      case "text":
        return { family: "text" };
      case "timestamp":
      case "datetime":
      case "time": {
        // PostgreSQL sends the fraction digits as the scale, MySQL/MariaDB as the length.
        const digits = dialect === "postgres" ? scale : length;
        if (digits === undefined) return undefined;
        const base = name === "time" ? "time" : dialect === "postgres" ? "timestamp" : "datetime";
        return temporal(base, digits);
      }
      case "timestamptz":
        return scale === undefined ? undefined : temporal("timestamptz", scale);
      default:
        break;
    }
  }
  switch (type.kind) {
    case "int8":
      return { family: "int", bits: 8, unsigned: false };
    case "int16":
      return { family: "int", bits: 16, unsigned: false };
    case "int32":
      return { family: "int", bits: 32, unsigned: false };
    case "int64":
      return { family: "int", bits: 64, unsigned: false };
    case "float32":
      return { family: "float", bits: 32 };
    case "float64":
      return { family: "float", bits: 64 };
    case "decimal":
      if (type.precision === undefined || type.precision >= unbounded || type.scale === undefined)
        return { family: "decimal", scale: type.scale ?? 0 };
      return dec(type.precision, type.scale);
    case "enum":
    case "enum-set":
      return type.allowed?.length
        ? { family: type.kind === "enum" ? "enum" : "set", labels: type.allowed }
        : undefined;
    default:
      return undefined;
  }
}

function intRange(shape: { bits: number; unsigned: boolean }): [bigint, bigint] {
  const bits = BigInt(shape.bits);
  return shape.unsigned ? [0n, (1n << bits) - 1n] : [-(1n << (bits - 1n)), (1n << (bits - 1n)) - 1n];
}

const widths = [8, 16, 24, 32, 64] as const;

/**
 * The shadow's shape widened to hold every value of production's, or undefined when it already
 * does or the two are not of one family (never narrowed, never changed in kind).
 */
export function widen(shadow: TypeShape, production: TypeShape, dialect: Dialect): TypeShape | undefined {
  if (shadow.family === "int" && production.family === "int") {
    const [smin, smax] = intRange(shadow);
    const [pmin, pmax] = intRange(production);
    if (pmin >= smin && pmax <= smax) return undefined;
    const min = pmin < smin ? pmin : smin;
    const max = pmax > smax ? pmax : smax;
    for (const bits of widths) {
      if (dialect === "postgres" && (bits === 8 || bits === 24)) continue;
      for (const unsigned of dialect === "mysql" && min >= 0n ? [false, true] : [false]) {
        const [lo, hi] = intRange({ bits, unsigned });
        if (lo <= min && hi >= max) return { family: "int", bits, unsigned };
      }
    }
    return dialect === "postgres" ? { family: "decimal", precision: 20, scale: 0 } : undefined;
  }
  if (shadow.family === "float" && production.family === "float")
    return production.bits > shadow.bits ? production : undefined;
  if (shadow.family === "decimal" && production.family === "decimal") {
    if (shadow.precision === undefined) return undefined;
    if (production.precision === undefined)
      return dialect === "postgres" ? { family: "decimal", scale: 0 } : dec(65, 30);
    const whole = Math.max(shadow.precision - shadow.scale, production.precision - production.scale);
    const scale = Math.max(shadow.scale, production.scale);
    if (whole + scale <= shadow.precision && scale <= shadow.scale) return undefined;
    return dialect === "mysql"
      ? dec(Math.min(whole + scale, 65), Math.min(scale, 30))
      : dec(whole + scale, scale);
  }
  if ((shadow.family === "varchar" || shadow.family === "char") && production.family === "text")
    return shadow.family === "varchar" ? { family: "text" } : undefined;
  if (
    (shadow.family === "varchar" || shadow.family === "char") &&
    production.family === shadow.family &&
    production.length > shadow.length
  )
    return { family: shadow.family, length: production.length };
  if (shadow.family === "varchar" && production.family === "char" && production.length > shadow.length)
    return { family: "varchar", length: production.length };
  if (shadow.family === "temporal" && production.family === "temporal" && production.digits > shadow.digits)
    return { ...shadow, digits: Math.min(production.digits, 6) };
  if ((shadow.family === "enum" || shadow.family === "set") && production.family === shadow.family) {
    const have = new Set(shadow.labels);
    const missing = production.labels.filter((l) => !have.has(l));
    // Appended: the shadow's own labels keep their place (and their stored numbers).
    return missing.length > 0 ? { family: shadow.family, labels: [...shadow.labels, ...missing] } : undefined;
  }
  return undefined;
}

const quoteLabels = (labels: string[]) => labels.map((l) => `'${l.replaceAll("'", "''")}'`).join(",");

/** A shape as the dialect's DDL type. */
export function renderType(shape: TypeShape, dialect: Dialect): string {
  const pg = dialect === "postgres";
  switch (shape.family) {
    case "int":
      if (pg) return shape.bits <= 16 ? "smallint" : shape.bits <= 32 ? "integer" : "bigint";
      return `${{ 8: "tinyint", 16: "smallint", 24: "mediumint", 32: "int", 64: "bigint" }[shape.bits]}${shape.unsigned ? " unsigned" : ""}`;
    case "float":
      return shape.bits === 32 ? (pg ? "real" : "float") : pg ? "double precision" : "double";
    case "decimal":
      if (shape.precision === undefined) return pg ? "numeric" : "decimal(65,30)";
      return `${pg ? "numeric" : "decimal"}(${shape.precision},${shape.scale})`;
    case "varchar":
      return pg ? `character varying(${shape.length})` : `varchar(${shape.length})`;
    case "char":
      return pg ? `character(${shape.length})` : `char(${shape.length})`;
    case "text":
      return pg ? "text" : "longtext";
    case "temporal": {
      const d = Math.min(shape.digits, 6);
      if (shape.base === "timestamptz") return pg ? `timestamp(${d}) with time zone` : `timestamp(${d})`;
      if (shape.base === "time") return `time(${d})`;
      return pg ? `timestamp(${d})` : `datetime(${d})`;
    }
    case "enum":
    case "set":
      return pg ? "text" : `${shape.family}(${quoteLabels(shape.labels)})`;
  }
}
