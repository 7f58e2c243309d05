/**
 * Column masking, applied before a value is written or logged. `hash` is a keyed HMAC so equal
 * inputs stay equal (joins and unique keys survive) while the original cannot be read back.
 */
import { createHmac } from "node:crypto";
import type { MaskRule } from "../config/index.ts";
import type { ColumnType } from "../decode/index.ts";
import { UNCHANGED, type Value } from "../decode/values.ts";
import { ShadowdbError } from "../errors.ts";

export const REDACTED = "[redacted]";

function canonical(value: Value): string | Buffer {
  if (Buffer.isBuffer(value)) return value;
  if (typeof value === "string") return value;
  // An id hashes the same whether its column is int32 (number) or int64 (bigint): joins survive.
  if (typeof value === "bigint" || typeof value === "number") return String(value);
  return JSON.stringify(value, (_, v) => (typeof v === "bigint" ? v.toString() : v));
}

/** digits of the digest as a decimal with `scale` places and at most `precision` digits. */
function decimalDigits(digest: Buffer, precision: number | undefined, scale: number | undefined): string {
  const places = scale ?? 0;
  // A variable-scale column takes any length; 18 digits keep collisions negligible.
  const total = Math.max(1, Math.min(precision ?? 18, 18));
  const digits = (digest.readBigUInt64BE(0) % 10n ** BigInt(total)).toString().padStart(total, "0");
  if (places === 0) return BigInt(digits).toString();
  const whole = digits.slice(0, Math.max(0, total - places)).replace(/^0+(?=\d)/, "") || "0";
  return `${whole}.${digits.slice(total - places).padStart(places, "0")}`;
}

/** A hash that fits the column: digits for numbers, a uuid for uuids, bytes for binary, hex otherwise. */
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
    case "decimal":
      return decimalDigits(digest, type.precision, type.scale);
    case "uuid": {
      const hex = digest.subarray(0, 16).toString("hex");
      return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
    }
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
      // The config refuses `hash` without masking.key and Mapper checks it at start; this guards
      // a direct call.
      if (hmacKey === undefined)
        throw new ShadowdbError("MAP_MASK_KEY_MISSING", "masking.key is required for strategy hash");
      return hashed(value, type, hmacKey);
  }
}
