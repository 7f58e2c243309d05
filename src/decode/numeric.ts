/** Exact decimal text from Connect's encodings; never through a float. */

/** An unscaled integer and a scale → plain decimal text ("-12.340"). */
export function scaled(unscaled: bigint, scale: number): string {
  if (scale <= 0) return (unscaled * 10n ** BigInt(-scale)).toString();
  const negative = unscaled < 0n;
  const digits = (negative ? -unscaled : unscaled).toString().padStart(scale + 1, "0");
  return `${negative ? "-" : ""}${digits.slice(0, -scale)}.${digits.slice(-scale)}`;
}

/** Big-endian two's-complement bytes (java.math.BigInteger.toByteArray) → bigint. */
export function twosComplement(bytes: Buffer): bigint {
  if (bytes.length === 0) return 0n;
  // Six bytes fit a double exactly; most decimals are that small, and this path avoids BigInt work.
  if (bytes.length <= 6) return BigInt(bytes.readIntBE(0, bytes.length));
  let value = 0n;
  for (const byte of bytes) value = (value << 8n) | BigInt(byte);
  return bytes[0]! & 0x80 ? value - (1n << BigInt(bytes.length * 8)) : value;
}

const BASE64_DIGITS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const base64Digit = new Int8Array(128).fill(-1);
for (let i = 0; i < BASE64_DIGITS.length; i++) base64Digit[BASE64_DIGITS.charCodeAt(i)] = i;

/**
 * Up to six bytes of standard base64 (most decimals' unscaled values) as a signed integer,
 * without a Buffer per value; undefined for anything else, which Buffer decodes.
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
  // Padding leaves 2 or 4 bits below the last byte; 48 bits fit a double exactly.
  const value = Math.floor(acc / 2 ** (digits * 6 - bytes * 8));
  const range = 2 ** (bytes * 8);
  return value >= range / 2 ? value - range : value;
}

export function decimalFromBase64(text: string, scale: number): string {
  const small = smallBase64Int(text);
  if (small !== undefined) return scaled(BigInt(small), scale);
  return scaled(twosComplement(Buffer.from(text, "base64")), scale);
}

const plainNumber = /^(-?)(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/;

/**
 * A JSON number's source text (decimal.format=NUMERIC) → plain decimal text with `scale` digits.
 * Returns undefined for text that is not a number.
 */
export function decimalFromNumberText(text: string, scale: number): string | undefined {
  const m = plainNumber.exec(text);
  if (!m) return undefined;
  const [, sign, whole, fraction = "", exponent = "0"] = m;
  const unscaledDigits = `${whole}${fraction}`;
  const shift = Number(exponent) - fraction.length + scale;
  let unscaled = BigInt(unscaledDigits);
  if (shift >= 0) unscaled *= 10n ** BigInt(shift);
  else {
    const divisor = 10n ** BigInt(-shift);
    // A value with more digits than its column's scale is not something Debezium sends; refuse to round.
    if (unscaled % divisor !== 0n) return undefined;
    unscaled /= divisor;
  }
  return scaled(sign === "-" ? -unscaled : unscaled, scale);
}
