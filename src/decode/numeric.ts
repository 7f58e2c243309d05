/**
 * Exact decimal text from Connect's encodings; never through a float. Sizes and scales are
 * checked before any conversion: BigInt work on a 200,000-byte value took seconds of the event
 * loop, and a scale of 500,000,000 padded a string to 2 GB.
 */
import { ShadowdbError } from "../errors.ts";
import type { DecodeContext } from "./context.ts";
import { MAX_FRACTION_DIGITS, MAX_INTEGER_DIGITS, MAX_UNSCALED_BYTES, preview } from "./limits.ts";

function tooLarge(field: string, what: string): never {
  throw new ShadowdbError("DECODE_VALUE_TOO_LARGE", `field ${preview(field)}: ${what}`);
}

function badValue(field: string, what: string): never {
  throw new ShadowdbError("DECODE_BAD_VALUE", `field ${preview(field)}: ${what}`);
}

/** A scale no target holds (or not an integer) is refused before it sizes anything. */
export function checkScale(scale: number, field: string): number {
  if (!Number.isInteger(scale)) badValue(field, `decimal scale ${preview(String(scale))} is not an integer`);
  if (scale > MAX_FRACTION_DIGITS || scale < -MAX_INTEGER_DIGITS) {
    tooLarge(
      field,
      `decimal scale ${scale} is beyond any target (${MAX_FRACTION_DIGITS} digits after the point, ${MAX_INTEGER_DIGITS} before)`,
    );
  }
  return scale;
}

/**
 * Plain digits (no sign, no leading zeros, "" for zero) and a checked scale → decimal text, or
 * DECODE_VALUE_TOO_LARGE when the digits before the point are more than any target holds.
 */
function placeDigits(negative: boolean, digits: string, scale: number, field: string): string {
  if (digits === "") return scale > 0 ? `0.${"0".repeat(scale)}` : "0";
  if (digits.length - scale > MAX_INTEGER_DIGITS) {
    tooLarge(
      field,
      `decimal has ${digits.length - scale} digits before the point (at most ${MAX_INTEGER_DIGITS})`,
    );
  }
  const sign = negative ? "-" : "";
  if (scale <= 0) return `${sign}${digits}${"0".repeat(-scale)}`;
  const padded = digits.padStart(scale + 1, "0");
  return `${sign}${padded.slice(0, -scale)}.${padded.slice(-scale)}`;
}

/** An unscaled integer and a checked scale → plain decimal text ("-12.340"). */
export function scaled(unscaled: bigint, scale: number, field = "decimal"): string {
  const negative = unscaled < 0n;
  const digits = unscaled === 0n ? "" : (negative ? -unscaled : unscaled).toString();
  return placeDigits(negative, digits, scale, field);
}

/** Big-endian two's-complement bytes (java.math.BigInteger.toByteArray) → bigint, in linear time. */
export function twosComplement(bytes: Buffer): bigint {
  if (bytes.length === 0) return 0n;
  // Six bytes fit a double exactly; most decimals are that small, and this path avoids BigInt work.
  if (bytes.length <= 6) return BigInt(bytes.readIntBE(0, bytes.length));
  // Hex parsing is linear; shifting in a byte at a time copied the growing value per byte.
  const value = BigInt(`0x${bytes.toString("hex")}`);
  return bytes[0]! & 0x80 ? value - (1n << BigInt(bytes.length * 8)) : value;
}

const BASE64_DIGITS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const base64Digit = new Int8Array(128).fill(-1);
for (let i = 0; i < BASE64_DIGITS.length; i++) base64Digit[BASE64_DIGITS.charCodeAt(i)] = i;

/**
 * Up to six bytes of canonical base64 (most decimals' unscaled values) as a signed integer,
 * without a Buffer per value; undefined for anything else, which strictBase64 decodes or refuses.
 */
function smallBase64Int(text: string): number | undefined {
  if (text.length === 0 || text.length > 8 || text.length % 4 !== 0) return undefined;
  let digits = text.length;
  while (digits > 0 && text.charCodeAt(digits - 1) === 0x3d) digits--;
  if (text.length - digits > 2) return undefined;
  let acc = 0;
  for (let i = 0; i < digits; i++) {
    const code = text.charCodeAt(i);
    const digit = code < 128 ? base64Digit[code]! : -1;
    if (digit < 0) return undefined;
    acc = acc * 64 + digit;
  }
  const bytes = Math.floor((digits * 6) / 8);
  if (bytes === 0) return undefined;
  // Padding leaves 2 or 4 bits below the last byte; a canonical encoder leaves them 0.
  const below = 2 ** (digits * 6 - bytes * 8);
  if (acc % below !== 0) return undefined;
  // 48 bits fit a double exactly.
  const value = acc / below;
  const range = 2 ** (bytes * 8);
  return value >= range / 2 ? value - range : value;
}

/**
 * Base64 as Java's encoder writes it (padded, canonical), or DECODE_BAD_VALUE: Buffer.from skips
 * characters that are not base64, so "AB!C" would decode to some other number. Re-encoding and
 * comparing is linear and native.
 */
export function strictBase64(
  text: string,
  field: string,
  encoding: "base64" | "base64url" = "base64",
): Buffer {
  const bytes = Buffer.from(text, encoding);
  const canonical = bytes.toString(encoding);
  // Node's base64url has no padding; Java's URL encoder pads.
  const same = encoding === "base64" ? canonical === text : canonical === text.replace(/={1,2}$/, "");
  if (!same) badValue(field, `not valid ${encoding}: ${preview(text, 40)}`);
  return bytes;
}

/** Hex as binary.handling.mode=hex writes it (either case), or DECODE_BAD_VALUE. */
export function strictHex(text: string, field: string): Buffer {
  const bytes = Buffer.from(text, "hex");
  if (bytes.length * 2 !== text.length || bytes.toString("hex") !== text.toLowerCase())
    badValue(field, `not valid hex: ${preview(text, 40)}`);
  return bytes;
}

/** The unscaled value's base64 text, size-checked before it is decoded. */
function unscaledBytes(text: string, field: string, ctx: DecodeContext | undefined): Buffer {
  if (text.length > Math.ceil(MAX_UNSCALED_BYTES / 3) * 4) {
    tooLarge(
      field,
      `decimal of ${text.length} base64 characters is beyond any target (${MAX_UNSCALED_BYTES} bytes)`,
    );
  }
  const bytes = strictBase64(text, field);
  // ~2.41 decimal digits per byte: what turning it into text will cost, charged before.
  ctx?.spendDigits(Math.ceil(bytes.length * 2.41), field);
  return bytes;
}

export function decimalFromBase64(
  text: string,
  scale: number,
  field = "decimal",
  ctx?: DecodeContext,
): string {
  const small = smallBase64Int(text);
  if (small !== undefined) return scaled(BigInt(small), scale, field);
  return scaled(twosComplement(unscaledBytes(text, field, ctx)), scale, field);
}

/** The unscaled value as bytes (Avro's decimal), size-checked and charged like the base64 text. */
export function decimalFromBytes(
  bytes: Buffer,
  scale: number,
  field = "decimal",
  ctx?: DecodeContext,
): string {
  if (bytes.length <= 6) return scaled(twosComplement(bytes), scale, field);
  if (bytes.length > MAX_UNSCALED_BYTES)
    tooLarge(field, `decimal of ${bytes.length} bytes is beyond any target (${MAX_UNSCALED_BYTES} bytes)`);
  ctx?.spendDigits(Math.ceil(bytes.length * 2.41), field);
  return scaled(twosComplement(bytes), scale, field);
}

/** VariableScaleDecimal's {scale, value}: the scale checked first, then the value's size. */
export function decimalFromParts(
  value: string | Buffer,
  scale: number,
  field: string,
  ctx?: DecodeContext,
): string {
  const checked = checkScale(scale, `${field}.scale`);
  return typeof value === "string"
    ? decimalFromBase64(value, checked, field, ctx)
    : decimalFromBytes(value, checked, field, ctx);
}

const plainNumber = /^(-?)(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/;

/** Longest number text considered: the most digits a target holds, a point, a sign and an exponent. */
const MAX_NUMBER_TEXT = MAX_INTEGER_DIGITS + MAX_FRACTION_DIGITS + 32;

/**
 * A JSON number's source text (decimal.format=NUMERIC) → plain decimal text with `scale` digits.
 * Returns undefined for text that is not a number or has more digits than `scale` (Debezium never
 * sends one; refusing beats rounding). Digit strings only, no BigInt: an exponent of 1e9 cannot
 * make it allocate.
 */
export function decimalFromNumberText(
  text: string,
  scale: number,
  field = "decimal",
  ctx?: DecodeContext,
): string | undefined {
  if (text.length > MAX_NUMBER_TEXT)
    tooLarge(field, `decimal of ${text.length} characters is beyond any target`);
  const m = plainNumber.exec(text);
  if (!m) return undefined;
  const [, sign, whole, fraction = "", exponentText = "0"] = m;
  const all = `${whole}${fraction}`;
  let first = 0;
  while (first < all.length && all.charCodeAt(first) === 0x30) first++;
  let digits = all.slice(first);
  if (digits === "") return placeDigits(false, "", scale, field);
  // Beyond ±2^53 Number() rounds, but any such exponent is far past every limit below anyway.
  const exponent = Number(exponentText);
  // The value is digits × 10^(exponent − fraction.length); at `scale`, digits × 10^shift.
  const shift = exponent - fraction.length + scale;
  if (digits.length + shift - scale > MAX_INTEGER_DIGITS) {
    tooLarge(
      field,
      `decimal has ${digits.length + shift - scale} digits before the point (at most ${MAX_INTEGER_DIGITS})`,
    );
  }
  ctx?.spendDigits(digits.length, field);
  if (shift >= 0) digits += "0".repeat(shift);
  else {
    if (-shift > digits.length) return undefined;
    if (!/^0*$/.test(digits.slice(shift))) return undefined;
    digits = digits.slice(0, shift);
  }
  return placeDigits(sign === "-", digits, scale, field);
}
