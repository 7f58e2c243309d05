/**
 * The values a decoded row holds. Plain JS values where they are exact, strings where JS has no
 * exact type (decimals, temporal values keep every digit and their zone), bigint for int64.
 * What a value means (a date, a uuid…) is told by its column's type, not by the value.
 */

/** TOAST/LOB placeholder: the column was not sent; the stored value must be kept, never overwritten. */
export const UNCHANGED: unique symbol = Symbol.for("shadowdb.unchanged");
export type Unchanged = typeof UNCHANGED;

export interface GeometryValue {
  wkb: Buffer;
  srid: number | null;
}

export interface PointValue {
  x: number;
  y: number;
  wkb: Buffer | null;
  srid: number | null;
}

export type Value =
  | null
  | boolean
  | number
  | bigint
  | string
  | Buffer
  | Unchanged
  | GeometryValue
  | PointValue
  | Value[]
  | { [field: string]: Value };

export type Row = Record<string, Value>;

/** The lossless JSON form used by `shadowdb decode`: int64 as strings, bytes as base64, the marker visible. */
export function toLosslessJson(value: unknown): unknown {
  if (value === UNCHANGED) return { $unchanged: true };
  if (typeof value === "bigint") return value.toString();
  if (Buffer.isBuffer(value)) return { $base64: value.toString("base64") };
  if (Array.isArray(value)) return value.map(toLosslessJson);
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = toLosslessJson(v);
    return out;
  }
  return value;
}
