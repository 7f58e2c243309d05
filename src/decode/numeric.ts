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

export function decimalFromBase64(text: string, scale: number): string {
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
