/**
 * Column masking, applied before a value is written or logged. `hash` is a keyed HMAC so equal
 * inputs stay equal (joins and unique keys survive) while the original cannot be read back.
 */
import { createHmac } from "node:crypto";
import type { MaskRule } from "../config/index.ts";
import type { ColumnType } from "../decode/index.ts";
import { UNCHANGED, type Value } from "../decode/values.ts";

export const REDACTED = "[redacted]";

function canonical(value: Value): string | Buffer {
  if (Buffer.isBuffer(value)) return value;
  if (typeof value === "string") return value;
  return JSON.stringify(value, (_, v) => (typeof v === "bigint" ? v.toString() : v));
}

/** A hash that fits the column: digits for numbers, bytes for binary, hex text otherwise. */
function hashed(value: Value, type: ColumnType | undefined, key: string): Value {
  const digest = createHmac("sha256", key).update(canonical(value)).digest();
  switch (type?.kind) {
    case "int8":
      return digest.readUInt8(0) & 0x7f;
    case "int16":
      return digest.readUInt16BE(0) & 0x7fff;
    case "int32":
      return digest.readUInt32BE(0) & 0x7fffffff;
    case "int64":
      return digest.readBigUInt64BE(0) & 0x7fffffffffffffffn;
    case "bytes":
      return digest;
    default:
      return digest.toString("hex");
  }
}

export function mask(
  value: Value,
  rule: MaskRule,
  type: ColumnType | undefined,
  hmacKey: string | undefined,
): Value {
  if (value === null || value === UNCHANGED) return value;
  switch (rule.strategy) {
    case "null":
      return null;
    case "redact":
      return type?.kind === "bytes" ? Buffer.from(REDACTED) : REDACTED;
    case "constant":
      return rule.value;
    case "hash":
      // The config refuses `hash` without masking.key; this guards a hand-built config.
      if (hmacKey === undefined) throw new Error("masking.key is required for strategy hash");
      return hashed(value, type, hmacKey);
  }
}
