/**
 * Hostile records made from a recorded one: the PostgreSQL all-types insert with every column
 * set (test/fixtures/recorded/postgres/default/alltypes-insert.json, id 2), edited in one place.
 */
import type { KafkaRecord } from "../../src/decode/index.ts";
import { readFixture, tableRecords } from "./fixtures.ts";

// biome-ignore lint/suspicious/noExplicitAny: an edit reaches into Connect JSON of any shape.
export type Message = any;

const recorded = tableRecords(readFixture("postgres/default/alltypes-insert.json"));
/** The insert with id 2: decimals, bytes, bits, text and timestamps all set. */
export const base: KafkaRecord = recorded[1]!;
export const baseValue: Message = JSON.parse(base.value!.toString());

/** `base` with its value (and key, when given) edited; `raw` text replaces the value entirely. */
export function edited(edit: (value: Message) => void, key?: unknown): KafkaRecord {
  const value = structuredClone(baseValue);
  edit(value);
  return {
    ...base,
    value: Buffer.from(JSON.stringify(value)),
    key: key === undefined ? base.key : Buffer.from(JSON.stringify(key)),
  };
}

export function withValue(value: Buffer | string, key: Buffer | null = base.key): KafkaRecord {
  return { ...base, key, value: typeof value === "string" ? Buffer.from(value) : value };
}

/** The schema of `after` (and `before`, which shares it) in an edited message. */
export function rowFields(value: Message): Message[] {
  return value.schema.fields.find((f: Message) => f.field === "after").fields;
}

export function fieldSchema(value: Message, name: string): Message {
  return rowFields(value).find((f: Message) => f.field === name);
}

/** Two's-complement bytes of n, as java.math.BigInteger.toByteArray writes them, in base64. */
export function unscaledBase64(n: bigint): string {
  let hex = (n < 0n ? -n : n).toString(16);
  if (hex.length % 2) hex = `0${hex}`;
  if (Number.parseInt(hex[0]!, 16) >= 8) hex = `00${hex}`;
  let bytes = Buffer.from(hex, "hex");
  if (n < 0n) {
    const bits = BigInt(bytes.length * 8);
    const twos = (1n << bits) + n;
    bytes = Buffer.from(twos.toString(16).padStart(bytes.length * 2, "0"), "hex");
  }
  return bytes.toString("base64");
}
