/**
 * What every column decoder shares: reading a raw JSON value as the Connect type it must be (or
 * DECODE_SCHEMA_MISMATCH), and recognising Debezium's placeholder for a value it did not send.
 */
import { ShadowdbError } from "../../errors.ts";
import type { ColumnType, Decoder } from "../columns.ts";
import type { DecodeContext } from "../context.ts";
import { preview } from "../limits.ts";
import { strictBase64 } from "../numeric.ts";
import { UNCHANGED } from "../values.ts";

/** A field schema compiled: what the column is, and what each of its values becomes. */
export interface Compiled {
  type: ColumnType;
  decode: Decoder;
}

/** What every compiled type carries, whatever its kind. */
export type TypeBase = Pick<ColumnType, "optional" | "logical" | "source">;

export const PLACEHOLDER = "__debezium_unavailable_value";
export const PLACEHOLDER_BASE64 = Buffer.from(PLACEHOLDER).toString("base64");
export const PLACEHOLDER_CODES = JSON.stringify([...Buffer.from(PLACEHOLDER)]);
// UUID.nameUUIDFromBytes(placeholder): how the TOAST marker looks in a uuid[] column.
export const PLACEHOLDER_UUID = "b68a35a7-17ad-35b3-af2a-ae46edb4545a";

export function mismatch(field: string, expected: string, raw: unknown): never {
  const got = raw === null ? "null" : Array.isArray(raw) ? "array" : typeof raw;
  throw new ShadowdbError(
    "DECODE_SCHEMA_MISMATCH",
    `field ${preview(field)}: expected ${expected}, got ${got}`,
  );
}

export function badValue(field: string, what: string): never {
  throw new ShadowdbError("DECODE_BAD_VALUE", `field ${preview(field)}: ${what}`);
}

export function int(raw: unknown, field: string): number {
  if (typeof raw !== "number" || !Number.isInteger(raw)) mismatch(field, "an integer", raw);
  return raw;
}

/** `key` is the JSON member name the value was read from (for text recovery), `path` names it in errors. */
export function int64(raw: unknown, ctx: DecodeContext, key: string, path: string): bigint {
  // Avro's longs arrive as BigInt (src/decode/avro), exact.
  if (typeof raw !== "number" || !Number.isInteger(raw))
    return typeof raw === "bigint" ? raw : mismatch(path, "an int64", raw);
  if (Number.isSafeInteger(raw)) return BigInt(raw);
  const text = ctx.numberText(key, raw);
  if (text === undefined || !/^-?\d+$/.test(text)) badValue(path, "int64 source text not found");
  return BigInt(text);
}

export function float(raw: unknown, field: string): number {
  if (typeof raw === "number") return raw;
  // Jackson writes non-finite doubles as strings.
  if (raw === "NaN") return Number.NaN;
  if (raw === "Infinity") return Number.POSITIVE_INFINITY;
  if (raw === "-Infinity") return Number.NEGATIVE_INFINITY;
  return mismatch(field, "a number", raw);
}

export function str(raw: unknown, field: string): string {
  if (typeof raw !== "string") mismatch(field, "a string", raw);
  return raw;
}

/** Connect bytes: base64 text in JSON, a Buffer from Avro (copied: it is a slice of the whole fetch). */
export function base64(raw: unknown, field: string): Buffer {
  if (typeof raw !== "string" && Buffer.isBuffer(raw)) return Buffer.from(raw);
  return strictBase64(str(raw, field), field);
}

/** Debezium's placeholder for an unavailable bytes value, as Avro carries it. */
export const PLACEHOLDER_BYTES = Buffer.from(PLACEHOLDER);

export const isPlaceholderBytes = (raw: unknown): boolean =>
  Buffer.isBuffer(raw) && raw.length === PLACEHOLDER_BYTES.length && raw.equals(PLACEHOLDER_BYTES);

export function withPlaceholderString(decode: Decoder): Decoder {
  return (raw, ctx, f) => (raw === PLACEHOLDER ? UNCHANGED : decode(raw, ctx, f));
}
