/**
 * The avsc type a writer schema decodes with: longs as BigInt (long.ts), and arrays and maps that
 * refuse a block count larger than the bytes left. avsc trusts the count: a record of a few bytes
 * claiming 2^31 items made it loop and grow an array until memory ran out. Every item of a Connect
 * type takes at least one byte, except empty structs, which the count bound also limits. Strings
 * and floats are read as the JSON path reads them (below). avsc's types are frozen, so these
 * readers replace its prototypes' (shadowdb is avsc's only user in the process).
 */
import { isUtf8 } from "node:buffer";
import avro from "avsc";
import { ShadowdbError } from "../../errors.ts";
import { preview } from "../limits.ts";
import { bigIntLong, varintToBigInt } from "./long.ts";

interface Tap {
  buf: Buffer;
  pos: number;
  readLong(): number;
  skipLong(): void;
}

interface Reader {
  _read(tap: Tap): unknown;
}

/** The next block's item count, or 0 (the end, or a count past the bytes left: the tap is invalidated). */
function blockSize(tap: Tap): number {
  let n = tap.readLong();
  if (n < 0) {
    n = -n;
    tap.skipLong();
  }
  if (n > tap.buf.length - tap.pos) {
    tap.pos = tap.buf.length + 1;
    return 0;
  }
  return n;
}

const types = avro.types as unknown as Record<string, { prototype: Record<string, unknown> }>;

types.ArrayType!.prototype._read = function (this: { itemsType: Reader }, tap: Tap): unknown[] {
  const items: unknown[] = [];
  for (let n = blockSize(tap); n > 0; n = blockSize(tap)) {
    while (n--) items.push(this.itemsType._read(tap));
  }
  return items;
};

types.MapType!.prototype._read = function (this: { valuesType: Reader }, tap: Tap): Record<string, unknown> {
  // No prototype: a key such as "__proto__" or "constructor" is just a key.
  const map: Record<string, unknown> = Object.create(null);
  for (let n = blockSize(tap); n > 0; n = blockSize(tap)) {
    while (n--) {
      const key = readString(tap);
      map[key] = this.valuesType._read(tap);
    }
  }
  return map;
};

/**
 * Our BigInt long reads its varint in place: avsc's reader slices a Buffer per long for the
 * custom type's fromBuffer, a tenth of Avro decoding. Up to 7 bytes (49 bits) are summed as a
 * double, exactly; longer ones go through varintToBigInt. The prototype is avsc's internal one
 * of custom long types, and only bigIntLong is one.
 */
(Object.getPrototypeOf(bigIntLong) as { _read: (tap: Tap) => bigint | undefined })._read = (tap: Tap) => {
  const buf = tap.buf;
  const start = tap.pos;
  let pos = start;
  let zigzag = 0;
  let scale = 1;
  for (let n = 0; n < 7; n++) {
    const byte = buf[pos++];
    if (byte === undefined) break;
    zigzag += (byte & 0x7f) * scale;
    if (byte < 0x80) {
      tap.pos = pos;
      return BigInt(zigzag % 2 === 0 ? zigzag / 2 : -(zigzag + 1) / 2);
    }
    scale *= 128;
  }
  while (pos < buf.length && buf[pos]! >= 0x80) pos++;
  if (pos >= buf.length) {
    tap.pos = buf.length + 1;
    return undefined;
  }
  tap.pos = pos + 1;
  return varintToBigInt(buf.subarray(start, pos + 1));
};

/**
 * Strings checked like JSON text: avsc would put U+FFFD in place of each bad sequence and the
 * shadow would store that as the value.
 */
function readString(tap: Tap): string {
  const length = tap.readLong();
  const start = tap.pos;
  if (length < 0 || start + length > tap.buf.length) {
    tap.pos = tap.buf.length + 1;
    return "";
  }
  tap.pos += length;
  if (!isUtf8(tap.buf.subarray(start, tap.pos)))
    throw new ShadowdbError("DECODE_BAD_UTF8", "an Avro string is not valid UTF-8");
  return tap.buf.toString("utf8", start, tap.pos);
}

types.StringType!.prototype._read = readString;

/**
 * An Avro float as the JsonConverter writes the same Java float (3.14, not the double nearest
 * 3.14f, 3.140000104904175): the shortest decimal that reads back as this float.
 */
export function shortestFloat(value: number): number {
  if (!Number.isFinite(value) || value === 0) return value;
  for (let digits = 1; digits < 9; digits++) {
    const candidate = Number(value.toPrecision(digits));
    if (Math.fround(candidate) === value) return candidate;
  }
  return value;
}

const readFloat = types.FloatType!.prototype._read as (this: unknown, tap: Tap) => number;
types.FloatType!.prototype._read = function (this: unknown, tap: Tap): number {
  return shortestFloat(readFloat.call(this, tap));
};

/**
 * Every long as BigInt: avsc's registry option replaces the name "long" only, not a long written
 * as an object (`{"type": "long", "connect.name": …}`, how Connect writes every timestamp).
 */
export function longAsBigInt(schema: unknown): avro.Type | undefined {
  if (schema === "long") return bigIntLong;
  if (schema !== null && typeof schema === "object" && (schema as { type?: unknown }).type === "long")
    return bigIntLong;
  return undefined;
}

/** avsc's type for a writer schema; DECODE_BAD_REGISTRY_SCHEMA when avsc refuses it. */
export function avroType(schema: unknown): avro.Type {
  try {
    return avro.Type.forSchema(
      schema as avro.Schema,
      {
        typeHook: longAsBigInt,
        wrapUnions: "auto",
      } as unknown as avro.ForSchemaOptions,
    );
  } catch (error) {
    throw new ShadowdbError(
      "DECODE_BAD_REGISTRY_SCHEMA",
      `avsc refuses the Avro schema: ${preview((error as Error).message)}`,
    );
  }
}

/** One value decoded with its writer schema; DECODE_AVRO_MISMATCH when the bytes do not fit it. */
export function readAvro(type: avro.Type, bytes: Buffer, what: string): unknown {
  let decoded: { value: unknown; offset: number };
  try {
    decoded = type.decode(bytes, 0);
  } catch (error) {
    if (error instanceof ShadowdbError) throw error;
    // avsc throws for a union or enum index out of range.
    throw new ShadowdbError(
      "DECODE_AVRO_MISMATCH",
      `the ${what} does not decode with its Avro schema: ${preview((error as Error).message)}`,
    );
  }
  const { value, offset } = decoded;
  if (offset < 0) throw new ShadowdbError("DECODE_AVRO_MISMATCH", `the ${what} ends inside its Avro data`);
  if (offset !== bytes.length) {
    throw new ShadowdbError(
      "DECODE_AVRO_MISMATCH",
      `the ${what} has ${bytes.length - offset} bytes after its Avro data (not written with this schema?)`,
    );
  }
  return value;
}
