/**
 * Values of records without a schema (schemas.enable=false): no logical types to go by, so JSON
 * values stay as they are, except int64s beyond 2^53 (exact as bigint) and the TOAST markers.
 */
import { PLACEHOLDER } from "./columns.ts";
import type { DecodeContext } from "./context.ts";
import { UNCHANGED, type Value } from "./values.ts";

const PLACEHOLDER_BASE64 = Buffer.from(PLACEHOLDER).toString("base64");

export function looseValue(raw: unknown, ctx: DecodeContext, key: string): Value {
  if (raw === null || raw === undefined) return null;
  switch (typeof raw) {
    case "number": {
      if (Number.isInteger(raw) && !Number.isSafeInteger(raw)) {
        const text = ctx.numberText(key, raw);
        if (text !== undefined && /^-?\d+$/.test(text)) return BigInt(text);
      }
      return raw;
    }
    case "string":
      return raw === PLACEHOLDER || raw === PLACEHOLDER_BASE64 ? UNCHANGED : raw;
    case "boolean":
      return raw;
    case "object": {
      if (Array.isArray(raw)) {
        if (raw.length === 1 && (raw[0] === PLACEHOLDER || raw[0] === PLACEHOLDER_BASE64)) return UNCHANGED;
        return raw.map((v) => looseValue(v, ctx, key));
      }
      return looseRow(raw as Record<string, unknown>, ctx);
    }
    default:
      return null;
  }
}

export function looseRow(raw: Record<string, unknown>, ctx: DecodeContext): Record<string, Value> {
  const out: Record<string, Value> = {};
  for (const [k, v] of Object.entries(raw)) out[k] = looseValue(v, ctx, k);
  return out;
}
