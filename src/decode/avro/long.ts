/**
 * Avro's long read as a BigInt: avsc refuses (or rounds) longs beyond 2^53 by default, and ids,
 * log positions and nanosecond timestamps go beyond. avsc's documented custom long type is given
 * the varint's own bytes (noUnpack), decoded here without an 8-byte buffer per value.
 */
import avro from "avsc";

/** A zigzag varint of at most 7 bytes holds 49 bits: exact in a double, so read without BigInt steps. */
const SMALL_BYTES = 7;

export function varintToBigInt(buf: Buffer): bigint {
  if (buf.length <= SMALL_BYTES) {
    let zigzag = 0;
    for (let i = buf.length - 1; i >= 0; i--) zigzag = zigzag * 128 + (buf[i]! & 0x7f);
    return BigInt(zigzag % 2 === 0 ? zigzag / 2 : -(zigzag + 1) / 2);
  }
  let zigzag = 0n;
  for (let i = buf.length - 1; i >= 0; i--) zigzag = (zigzag << 7n) | BigInt(buf[i]! & 0x7f);
  // A hostile varint can be longer than a Java long's ten bytes: kept to a long's range.
  return BigInt.asIntN(64, (zigzag >> 1n) ^ -(zigzag & 1n));
}

export function bigIntToVarint(value: bigint): Buffer {
  let zigzag = BigInt.asUintN(64, (value << 1n) ^ (value >> 63n));
  const bytes: number[] = [];
  while (zigzag >= 0x80n) {
    bytes.push(Number(zigzag & 0x7fn) | 0x80);
    zigzag >>= 7n;
  }
  bytes.push(Number(zigzag));
  return Buffer.from(bytes);
}

export const bigIntLong = avro.types.LongType.__with(
  {
    fromBuffer: varintToBigInt,
    toBuffer: bigIntToVarint,
    fromJSON: (json: unknown) => BigInt(json as number | string),
    toJSON: (value: bigint) =>
      value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER)
        ? Number(value)
        : value.toString(),
    isValid: (value: unknown) => typeof value === "bigint",
    compare: (a: bigint, b: bigint) => (a < b ? -1 : a > b ? 1 : 0),
  },
  true,
);
