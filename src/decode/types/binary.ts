/**
 * Binary values other than Connect bytes: Debezium's Bits (a BitSet, printed as bit text), and
 * bytea/BLOB columns sent as text by binary.handling.mode=base64/hex.
 */
import { ShadowdbError } from "../../errors.ts";
import type { DecodeContext } from "../context.ts";
import { MAX_BITS, preview } from "../limits.ts";
import { strictBase64, strictHex } from "../numeric.ts";
import type { ConnectSchema } from "../schema.ts";
import { UNCHANGED } from "../values.ts";
import { base64, type Compiled, PLACEHOLDER, str, type TypeBase } from "./read.ts";

/** Debezium's Bits, or undefined when `name` is not it. */
export function compileBits(name: string, schema: ConnectSchema, base: TypeBase): Compiled | undefined {
  if (name !== "io.debezium.data.Bits") return undefined;
  const declared = Number(schema.parameters?.length ?? "0");
  // bit(n) pads to n. BitSet bytes drop leading zeros, so a varbit (unbounded: Integer.MAX,
  // or named by the propagated source type) shows its significant bits only.
  const varying = declared >= 2147483647 || /^(VARBIT|BIT VARYING)$/i.test(base.source?.type ?? "");
  return {
    type: { ...base, kind: "bits", ...(!varying && { length: declared }) },
    decode: (raw, _, f) => {
      const bytes = base64(raw, f);
      const length = varying ? significantBits(bytes) : declared;
      if (length > MAX_BITS) {
        throw new ShadowdbError(
          "DECODE_VALUE_TOO_LARGE",
          `field ${preview(f)}: ${length} bits is beyond any target (${MAX_BITS})`,
        );
      }
      return bitString(bytes, length);
    },
  };
}

function significantBits(bytes: Buffer): number {
  let last = bytes.length - 1;
  while (last >= 0 && bytes[last] === 0) last--;
  if (last < 0) return 0;
  return last * 8 + (32 - Math.clz32(bytes[last]!));
}

/** Each byte's eight bits, most significant first. */
const BYTE_BITS = Array.from({ length: 256 }, (_, b) => b.toString(2).padStart(8, "0"));

/**
 * Debezium's Bits are java.util.BitSet bytes (bit i has weight 2^i); printed most significant
 * first, a byte at a time (a bit at a time took seconds at PostgreSQL's 83886080 bits).
 */
function bitString(bytes: Buffer, length: number): string {
  if (!(length > 0)) return "";
  const parts: string[] = [];
  const top = (length - 1) >> 3;
  // The top byte holds the bits above the last whole byte.
  parts.push(BYTE_BITS[bytes[top] ?? 0]!.slice(8 - (((length - 1) & 7) + 1)));
  for (let i = top - 1; i >= 0; i--) parts.push(BYTE_BITS[bytes[i] ?? 0]!);
  return parts.join("");
}

export const binarySourceTypes = /^(BYTEA|BLOB|TINYBLOB|MEDIUMBLOB|LONGBLOB|BINARY|VARBINARY)$/i;

/** binary.handling.mode base64/hex: a bytea/BLOB column arrives as a string; its source type tells. */
export function compileBinaryText(base: TypeBase): Compiled {
  return {
    type: { ...base, kind: "bytes" },
    decode: (raw, ctx, f) => (raw === PLACEHOLDER ? UNCHANGED : stringBytes(ctx.binaryMode, str(raw, f), f)),
  };
}

function stringBytes(mode: DecodeContext["binaryMode"], text: string, field: string): Buffer {
  switch (mode) {
    case "hex":
      return strictHex(text, field);
    case "base64-url-safe":
      return strictBase64(text, field, "base64url");
    case "base64":
    case "bytes":
      return strictBase64(text, field);
  }
}
