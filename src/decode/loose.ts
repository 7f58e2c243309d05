/**
 * Values of records without a schema (schemas.enable=false): no logical types to go by, so JSON
 * values stay as they are, except int64s beyond 2^53 (exact as bigint) and the TOAST markers.
 * The parsed payload is ours alone, so it is fixed up in place rather than copied.
 */
import { ShadowdbError } from "../errors.ts";
import type { DecodeContext } from "./context.ts";
import { badName, preview } from "./limits.ts";
import { PLACEHOLDER, PLACEHOLDER_BASE64 } from "./types/read.ts";
import { type Row, UNCHANGED, type Value } from "./values.ts";

function fixed(raw: unknown, ctx: DecodeContext, key: string): Value {
  switch (typeof raw) {
    case "number": {
      // Only what could be a 64-bit integer is looked up; 1e308 is a double, whatever its digits.
      if (!Number.isSafeInteger(raw) && Number.isInteger(raw) && Math.abs(raw) <= 2 ** 64) {
        const text = ctx.numberText(key, raw);
        if (text !== undefined && /^-?\d+$/.test(text)) return BigInt(text);
      }
      return raw;
    }
    case "string":
      return raw === PLACEHOLDER || raw === PLACEHOLDER_BASE64 ? UNCHANGED : raw;
    case "object": {
      if (raw === null) return null;
      if (Array.isArray(raw)) {
        if (raw.length === 1 && (raw[0] === PLACEHOLDER || raw[0] === PLACEHOLDER_BASE64)) return UNCHANGED;
        for (let i = 0; i < raw.length; i++) raw[i] = fixed(raw[i], ctx, key);
        return raw as Value[];
      }
      return looseRow(raw as Record<string, unknown>, ctx);
    }
    case "boolean":
      return raw;
    default:
      return null;
  }
}

export function looseRow(raw: Record<string, unknown>, ctx: DecodeContext): Record<string, Value> {
  for (const k in raw) raw[k] = fixed(raw[k], ctx, k);
  return raw as Record<string, Value>;
}

/** A schemaless row or key: its members are columns, so their names are checked as a schema's are. */
export function looseColumns(raw: Record<string, unknown>, ctx: DecodeContext): Row {
  for (const name in raw) {
    // Rows of a table repeat their names: each is checked once (a check per name and row was a
    // tenth of a schemaless decode).
    if (goodNames.has(name)) continue;
    const problem = badName(name);
    if (problem)
      throw new ShadowdbError(
        "DECODE_BAD_VALUE",
        `column name ${JSON.stringify(preview(name, 80))} ${problem}`,
      );
    if (goodNames.size >= 10_000) goodNames.clear();
    goodNames.add(name);
  }
  return looseRow(raw, ctx);
}

const goodNames = new Set<string>();
