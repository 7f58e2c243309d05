/**
 * Message keys beside the row: the key must agree with the row it carries, and a primary-key
 * change names the other key in a header (decoded like a key, tolerant of its framing).
 */
import { isDeepStrictEqual } from "node:util";
import { ShadowdbError } from "../errors.ts";
import type { RowChange } from "./events.ts";
import { checkedText } from "./frame.ts";
import { preview } from "./limits.ts";
import { type Row, UNCHANGED, type Value } from "./values.ts";

/** The headers decoding reads (a primary-key change's other key); it never looks at the others. */
export const KEY_CHANGE_HEADERS = ["__debezium.oldkey", "__debezium.newkey"] as const;

export type HeaderValue = Buffer | string | undefined | (Buffer | string)[];

export type Headers = Record<string, HeaderValue> | undefined;

/** What the key-change headers add to a record's size: they are decoded too, so they count. */
export function keyHeaderBytes(headers: Headers): number {
  let bytes = 0;
  for (const name of KEY_CHANGE_HEADERS) {
    const value = headers?.[name];
    const first = Array.isArray(value) ? value[0] : value;
    if (first !== undefined) bytes += first.length;
  }
  return bytes;
}

/** The old and new keys a primary-key change carries in its headers, if it carries any. */
export function keyChange(headers: Headers, decodeKey: (text: string) => Row): RowChange["keyChange"] {
  const [oldName, newName] = KEY_CHANGE_HEADERS;
  const oldKey = headerRow(headers?.[oldName], decodeKey);
  const newKey = headerRow(headers?.[newName], decodeKey);
  if (!oldKey && !newKey) return undefined;
  return { ...(oldKey && { oldKey }), ...(newKey && { newKey }) };
}

function headerRow(value: HeaderValue, decode: (text: string) => Row): Row | undefined {
  const first = Array.isArray(value) ? value[0] : value;
  if (first === undefined) return undefined;
  return decode(checkedText(typeof first === "string" ? Buffer.from(first) : first, "key header"));
}

/**
 * DECODE_KEY_MISMATCH when the message key and the row it carries disagree on a key column:
 * applied, the row would land under the key's id or the row's, and either is wrong. Values are
 * not quoted (a key can be what masking hides). Key fields the row lacks (a router's table
 * identifier) or did not send (TOAST) are not compared.
 */
export function checkKey(key: Row, row: Row | null): void {
  if (!row) return;
  for (const column in key) {
    const expected = key[column]!;
    const value = row[column];
    if (value === undefined || value === UNCHANGED || expected === UNCHANGED) continue;
    if (!sameValue(expected, value)) {
      throw new ShadowdbError(
        "DECODE_KEY_MISMATCH",
        `the message key's ${JSON.stringify(preview(column, 80))} differs from the row's`,
      );
    }
  }
}

/** Equal as decoded; an int64 from a schema and the same integer from a schemaless side agree. */
function sameValue(a: Value, b: Value): boolean {
  if (typeof a === "bigint" && typeof b === "number") return Number.isInteger(b) && a === BigInt(b);
  if (typeof a === "number" && typeof b === "bigint") return Number.isInteger(a) && BigInt(a) === b;
  return isDeepStrictEqual(a, b);
}
