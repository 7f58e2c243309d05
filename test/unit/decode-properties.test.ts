/** Decimal and temporal decoding against independent reference computations (fast-check). */
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { decimalFromBase64, decimalFromNumberText } from "../../src/decode/numeric.ts";
import {
  dateFromEpochDays,
  durationFromMicros,
  localDateTime,
  timeOfDay,
} from "../../src/decode/temporal.ts";

/** Reference encoder: java.math.BigInteger.toByteArray (minimal big-endian two's complement). */
function toByteArray(value: bigint): Buffer {
  let hex = (value < 0n ? -value : value).toString(16);
  if (hex.length % 2) hex = `0${hex}`;
  let bytes = Buffer.from(hex, "hex");
  if (value < 0n) {
    // Two's complement of the magnitude, one byte wider when the top bit would read as positive.
    const width = BigInt(bytes.length * 8);
    let encoded = (1n << width) + value;
    if (encoded < 1n << (width - 1n)) encoded = (1n << (width + 8n)) + value;
    let h = encoded.toString(16);
    if (h.length % 2) h = `0${h}`;
    bytes = Buffer.from(h, "hex");
  } else if (bytes.length === 0 || (bytes[0]! & 0x80) !== 0) {
    bytes = Buffer.concat([Buffer.from([0]), bytes]);
  }
  return bytes;
}

/** Reference: place the point by string surgery on the digits. */
function referenceDecimal(unscaled: bigint, scale: number): string {
  const sign = unscaled < 0n ? "-" : "";
  const digits = (unscaled < 0n ? -unscaled : unscaled).toString();
  if (scale === 0) return sign + digits;
  const padded = "0".repeat(Math.max(0, scale + 1 - digits.length)) + digits;
  return `${sign}${padded.slice(0, padded.length - scale)}.${padded.slice(padded.length - scale)}`;
}

test("worked Decimal examples from the Debezium format notes", () => {
  assert.equal(decimalFromBase64("ALxhTg==", 2), "123456.78");
  assert.equal(decimalFromBase64("AN3h", 2), "568.01");
  assert.equal(decimalFromBase64("W6A=", 6), "0.023456");
  assert.equal(decimalFromBase64("ASs=", 2), "2.99");
  assert.equal(decimalFromBase64("EtaH", 4), "123.4567");
  assert.equal(decimalFromBase64("AP//////////", 0), "18446744073709551615");
  assert.equal(decimalFromBase64("B1vNFQ==", 3), "123456.789");
});

const roundTrips = (unscaled: bigint, scale: number) =>
  assert.equal(
    decimalFromBase64(toByteArray(unscaled).toString("base64"), scale),
    referenceDecimal(unscaled, scale),
  );

test("Decimal: any unscaled value and scale round-trips through two's complement", () => {
  fc.assert(
    fc.property(
      fc.bigInt({ min: -(10n ** 40n), max: 10n ** 40n }),
      fc.integer({ min: 0, max: 30 }),
      roundTrips,
    ),
    { numRuns: 2000 },
  );
});

test("Decimal: small unscaled values (six bytes and less, decoded without a Buffer) round-trip", () => {
  for (const edge of [0n, 1n, -1n, 127n, 128n, -128n, -129n, 2n ** 47n - 1n, -(2n ** 47n)])
    roundTrips(edge, 2);
  fc.assert(
    fc.property(
      fc.bigInt({ min: -(2n ** 47n), max: 2n ** 47n - 1n }),
      fc.integer({ min: 0, max: 12 }),
      roundTrips,
    ),
    { numRuns: 2000 },
  );
});

test("Decimal as number text: plain and exponent forms give the scaled digits", () => {
  fc.assert(
    fc.property(
      fc.bigInt({ min: -(10n ** 30n), max: 10n ** 30n }),
      fc.integer({ min: 0, max: 12 }),
      (unscaled, scale) => {
        const expected = referenceDecimal(unscaled, scale);
        assert.equal(decimalFromNumberText(expected, scale), expected);
        const exponentForm = `${unscaled}E-${scale}`;
        assert.equal(decimalFromNumberText(exponentForm, scale), expected);
      },
    ),
  );
});

const DAY_MS = 86_400_000;

test("dates: epoch days agree with the platform's calendar for years 0000-9999", () => {
  fc.assert(
    fc.property(fc.integer({ min: -719528, max: 2932896 }), (days) => {
      assert.equal(dateFromEpochDays(days), new Date(days * DAY_MS).toISOString().slice(0, 10));
    }),
    { numRuns: 5000 },
  );
});

test("dates beyond four-digit years use ISO-8601's expanded form", () => {
  assert.equal(dateFromEpochDays(-719529), "-0001-12-31");
  assert.equal(dateFromEpochDays(2932897), "+10000-01-01");
});

test("timestamps in micro and nanoseconds keep every digit", () => {
  fc.assert(
    fc.property(
      fc.bigInt({ min: -(10n ** 17n), max: 10n ** 17n }),
      fc.constantFrom<["us" | "ns", bigint]>(["us", 1000n], ["ns", 1_000_000n]),
      (value, [unit, perMs]) => {
        const ms = value / perMs - (value % perMs < 0n ? 1n : 0n);
        const sub = value - ms * perMs;
        const reference = `${new Date(Number(ms)).toISOString().slice(0, 23)}${sub.toString().padStart(unit === "us" ? 3 : 6, "0")}`;
        const date = new Date(Number(ms));
        if (date.getUTCFullYear() < 0 || date.getUTCFullYear() > 9999) return;
        assert.equal(localDateTime(value, unit), reference);
      },
    ),
    { numRuns: 5000 },
  );
});

test("time of day: micro and nanoseconds past midnight, and MySQL's negative and long TIMEs", () => {
  fc.assert(
    fc.property(fc.bigInt({ min: 0n, max: 86_399_999_999n }), (micros) => {
      const ms = Number(micros / 1000n);
      const reference = `${new Date(ms).toISOString().slice(11, 23)}${(micros % 1000n).toString().padStart(3, "0")}`;
      assert.equal(timeOfDay(micros, "us"), reference);
    }),
  );
  assert.equal(timeOfDay(-3_020_399_000_000n, "us"), "-838:59:59.000000");
  assert.equal(timeOfDay(90_000_000_001n, "ns"), "00:01:30.000000001");
});

test("durations: whole and fractional seconds, signed", () => {
  assert.equal(durationFromMicros(3_600_000_000n), "PT3600S");
  assert.equal(durationFromMicros(-1_500_000n), "-PT1.5S");
  assert.equal(durationFromMicros(1n), "PT0.000001S");
});
