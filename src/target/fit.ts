/**
 * A value is never stored changed: where the shadow's column would round, truncate or clamp it
 * (a numeric scale, a varchar length, an integer range, fewer fraction digits, a float, an enum
 * label the column lacks), the write is refused with TARGET_VALUE_ALTERED and the record set aside.
 * PostgreSQL refuses some of these itself, MariaDB outside strict mode none, and neither refuses a
 * decimal rounded to the column's scale. Checks are built once per table shape, from the type text.
 */
import type { ColumnType } from "../decode/index.ts";
import { UNCHANGED, type Value } from "../decode/values.ts";
import { ShadowdbError } from "../errors.ts";
import type { TableShape, TableWrite } from "./dialect.ts";
import { type Dialect, parseSqlType, type TypeShape } from "./type-shape.ts";

/** undefined: stored as given; otherwise what would change. */
type Check = (value: Value, type: ColumnType | undefined) => string | undefined;

const decimalText = /^-?(\d*)(?:\.(\d*))?$/;
const integerText = /^-?\d{1,40}$/;

/** The shortest decimal text of a float32, as a float column renders it. */
function float32Text(value: number): string {
  const f = Math.fround(value);
  for (let p = 1; p < 9; p++) {
    const text = f.toPrecision(p);
    if (Math.fround(Number(text)) === f) return text;
  }
  return f.toPrecision(9);
}

/** Code points of `text`, counted up to `limit` + 1 at most. */
function longerThan(text: string, limit: number): boolean {
  if (text.length <= limit) return false;
  let count = 0;
  for (const _ of text) if (++count > limit) return true;
  return false;
}

function checkFor(shape: TypeShape): Check | undefined {
  switch (shape.family) {
    case "int": {
      const bits = BigInt(shape.bits);
      const min = shape.unsigned ? 0n : -(1n << (bits - 1n));
      const max = shape.unsigned ? (1n << bits) - 1n : (1n << (bits - 1n)) - 1n;
      const [nmin, nmax] = [Number(min), Number(max)];
      return (value) => {
        if (typeof value === "number") {
          if (!Number.isInteger(value))
            return Number.isFinite(value) ? `${value} would be rounded` : undefined;
          return value < nmin || value > nmax ? `${value} is out of range` : undefined;
        }
        // BIGINT UNSIGNED (bigint.unsigned.handling.mode precise) and integers as decimals arrive as text.
        if (typeof value === "string" && integerText.test(value)) value = BigInt(value);
        if (typeof value === "bigint")
          return value < min || value > max ? `${value} is out of range` : undefined;
        return undefined;
      };
    }
    case "float":
      if (shape.bits === 64) return undefined;
      // A float32 event value is stored as sent; a double is checked against float's nearest text.
      return (value, type) =>
        typeof value === "number" &&
        type?.kind === "float64" &&
        Number.isFinite(value) &&
        Number(float32Text(value)) !== value
          ? `${value} would be stored as ${float32Text(value)}`
          : undefined;
    case "decimal": {
      if (shape.precision === undefined) return undefined;
      const { precision, scale } = shape;
      const whole = precision - scale;
      return (raw) => {
        // decimal.handling.mode double sends numbers: their shortest text is what would be stored.
        const value = typeof raw === "number" && Number.isFinite(raw) ? String(raw) : raw;
        if (typeof value !== "string") return undefined;
        // Most values fit at a glance: no more digits on either side of the point than the column's.
        const dot = value.indexOf(".");
        const digits = value.charCodeAt(0) === 45 ? 1 : 0;
        const before = (dot < 0 ? value.length : dot) - digits;
        if (before <= whole && (dot < 0 || value.length - dot - 1 <= scale)) return undefined;
        const m = decimalText.exec(value);
        if (!m) return undefined;
        const integral = m[1]!.replace(/^0+/, "");
        const fraction = (m[2] ?? "").replace(/0+$/, "");
        if (fraction.length > scale) return `${value} has more than ${scale} digits after the point`;
        if (integral.length > whole) return `${value} has more than ${whole} digits before the point`;
        return undefined;
      };
    }
    case "varchar":
    case "char": {
      const { length } = shape;
      return (value) =>
        typeof value === "string" && longerThan(value, length)
          ? `a text longer than ${length} characters`
          : undefined;
    }
    case "temporal": {
      const { digits } = shape;
      return (value) => {
        if (typeof value !== "string") return undefined;
        const fraction = /\.(\d+)/.exec(value)?.[1];
        if (fraction === undefined || fraction.length <= digits) return undefined;
        return /[1-9]/.test(fraction.slice(digits))
          ? `${value} has more than ${digits} fraction digits`
          : undefined;
      };
    }
    case "enum": {
      const labels = new Set(shape.labels);
      return (value) =>
        typeof value === "string" && value !== "" && !labels.has(value)
          ? `"${value}" is not one of the column's labels`
          : undefined;
    }
    case "set": {
      const labels = new Set(shape.labels);
      return (value) => {
        if (typeof value !== "string" || value === "") return undefined;
        for (const label of value.split(","))
          if (!labels.has(label)) return `"${label}" is not one of the column's labels`;
        return undefined;
      };
    }
    case "text":
      return undefined;
  }
}

/** Per table shape: the columns with a check, each built once from the column's type text. */
const checks = new WeakMap<TableShape, [string, Check][]>();

function checksOf(shape: TableShape, dialect: Dialect): [string, Check][] {
  let list = checks.get(shape);
  if (!list) {
    list = [];
    for (const column of shape.columns.values()) {
      // PostgreSQL enums are types of their own (not parsed): it refuses an unknown label itself.
      const parsed = parseSqlType(column.sqlType, dialect);
      const check = parsed && checkFor(parsed);
      if (check) list.push([column.name, check]);
    }
    checks.set(shape, list);
  }
  return list;
}

/** Throws TARGET_VALUE_ALTERED for the first upserted value the table would store changed. */
export function assertStoredAsSent(write: TableWrite, dialect: Dialect): void {
  if (write.upserts.length === 0) return;
  const columns = checksOf(write.table, dialect);
  if (columns.length === 0) return;
  for (const row of write.upserts) {
    for (const [name, check] of columns) {
      const value = row[name];
      if (value === undefined || value === null || value === UNCHANGED) continue;
      const problem = check(value, write.types[name]);
      if (problem !== undefined) {
        const { schema, name: table } = write.table.name;
        throw new ShadowdbError(
          "TARGET_VALUE_ALTERED",
          `${schema}.${table}.${name} (${write.table.columns.get(name)!.sqlType}): ${problem}; not stored`,
        );
      }
    }
  }
}
