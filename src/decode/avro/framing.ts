/**
 * Which framing a key or value has, recognised per record (one config may map topics of several
 * formats, and a JSON key may go with an Avro value): JSON text, Confluent's frame (magic 0, a
 * 4-byte schema id, Avro), Apicurio's frame (magic 0, an 8-byte global id, Avro) or Apicurio's
 * id header (`apicurio.value.globalId`, 8 bytes, with plain Avro as the value).
 */
import { ShadowdbError } from "../../errors.ts";
import type { Format } from "../format.ts";
import type { Headers, HeaderValue } from "../keys.ts";

/** Which API resolves the id: Confluent's /schemas/ids/{id} or Apicurio's global ids. */
export type IdKind = "confluent" | "apicurio";

export interface SchemaRef {
  kind: IdKind;
  id: number;
}

export type Framing = { format: "json" } | { format: "avro"; ref: SchemaRef; body: Buffer };

const MAGIC = 0;
const CONFLUENT_HEADER = 5;
const APICURIO_HEADER = 9;
const JSON_FRAMING: Framing = { format: "json" };

/** The cache key of a schema reference: the same number means different schemas in the two APIs. */
export const refKey = (ref: SchemaRef) => `${ref.kind}:${ref.id}`;

function first(value: HeaderValue): Buffer | string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function headerId(value: Buffer | string, name: string): number {
  const bytes = typeof value === "string" ? Buffer.from(value, "latin1") : value;
  if (bytes.length !== 8)
    throw new ShadowdbError("DECODE_TRUNCATED_FRAME", `the ${name} header has ${bytes.length} bytes, not 8`);
  return globalId(bytes.readBigInt64BE(0), name);
}

function globalId(id: bigint, where: string): number {
  if (id <= 0n || id > BigInt(Number.MAX_SAFE_INTEGER))
    throw new ShadowdbError(
      "DECODE_SCHEMA_NOT_FOUND",
      `the ${where} names schema id ${id}, which no registry gives`,
    );
  return Number(id);
}

/**
 * A control byte other than JSON's blanks cannot start JSON text: such a value is a frame with a
 * wrong magic byte (or some other binary format), said as such rather than as bad JSON.
 */
const isBinaryStart = (byte: number) => byte < 0x20 && byte !== 0x09 && byte !== 0x0a && byte !== 0x0d;

export function recognise(bytes: Buffer, headers: Headers, what: "key" | "value", format?: Format): Framing {
  if (format === "json") return JSON_FRAMING;
  const header = first(headers?.[`apicurio.${what}.globalId`]);
  if (header !== undefined) {
    const encoding = first(headers?.[`apicurio.${what}.encoding`])?.toString();
    if (encoding !== undefined && encoding !== "BINARY")
      throw new ShadowdbError("DECODE_FORMAT_UNSUPPORTED", `the ${what} is Avro in the ${encoding} encoding`);
    return {
      format: "avro",
      ref: { kind: "apicurio", id: headerId(header, `apicurio.${what}.globalId`) },
      body: bytes,
    };
  }
  if (bytes.length > 0 && bytes[0] === MAGIC) {
    if (bytes.length < CONFLUENT_HEADER) {
      throw new ShadowdbError(
        "DECODE_TRUNCATED_FRAME",
        `the ${what} has ${bytes.length} bytes: too short for a magic byte and a schema id`,
      );
    }
    // Confluent's registries number schemas from 1: a 4-byte id of 0 is the top half of
    // Apicurio's 8-byte one (global ids up to 2^32; a larger one reads as a Confluent id).
    if (bytes.length >= APICURIO_HEADER && bytes.readUInt32BE(1) === 0) {
      const id = globalId(bytes.readBigInt64BE(1), `${what}'s frame`);
      return { format: "avro", ref: { kind: "apicurio", id }, body: bytes.subarray(APICURIO_HEADER) };
    }
    const id = bytes.readUInt32BE(1);
    if (id === 0) throw new ShadowdbError("DECODE_SCHEMA_NOT_FOUND", `the ${what}'s frame names schema id 0`);
    return { format: "avro", ref: { kind: "confluent", id }, body: bytes.subarray(CONFLUENT_HEADER) };
  }
  if (format === "avro" || (bytes.length > 0 && isBinaryStart(bytes[0]!))) {
    const start =
      bytes.length === 0 ? "is empty" : `starts with byte 0x${bytes[0]!.toString(16).padStart(2, "0")}`;
    throw new ShadowdbError(
      "DECODE_BAD_MAGIC",
      `the ${what} ${start}: not a schema registry frame (magic byte 0)${format === "avro" ? ", and the table's format is avro" : ""}`,
    );
  }
  return JSON_FRAMING;
}
