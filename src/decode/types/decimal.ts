/**
 * Decimals: Connect's Decimal (base64 unscaled bytes, or a JSON number with decimal.format=NUMERIC),
 * Debezium's VariableScaleDecimal, and decimal.handling.mode=string text. Exact, never a float.
 */
import { ShadowdbError } from "../../errors.ts";
import type { DecodeContext } from "../context.ts";
import { MAX_FRACTION_DIGITS, MAX_INTEGER_DIGITS, preview } from "../limits.ts";
import {
  checkScale,
  decimalFromBase64,
  decimalFromBytes,
  decimalFromNumberText,
  decimalFromParts,
} from "../numeric.ts";
import type { ConnectSchema } from "../schema.ts";
import { UNCHANGED, type Value } from "../values.ts";
import { badValue, type Compiled, int, mismatch, PLACEHOLDER, str, type TypeBase } from "./read.ts";

/** A decimal logical type, or undefined when `name` is not one. */
export function compileDecimal(
  name: string,
  schema: ConnectSchema,
  field: string,
  base: TypeBase,
): Compiled | undefined {
  switch (name) {
    case "org.apache.kafka.connect.data.Decimal": {
      // Checked when the schema is compiled: every value of it would be refused anyway.
      const scale = checkScale(Number(schema.parameters?.scale ?? "0"), field);
      const precision = schema.parameters?.["connect.decimal.precision"];
      return {
        type: {
          ...base,
          kind: "decimal",
          scale,
          ...(precision !== undefined && { precision: Number(precision) }),
        },
        decode: (raw, ctx, f) => {
          if (typeof raw === "string") return decimalFromBase64(raw, scale, f, ctx);
          if (Buffer.isBuffer(raw)) return decimalFromBytes(raw, scale, f, ctx);
          if (typeof raw === "number") {
            const text = ctx.numberText(field, raw);
            const exact = text === undefined ? undefined : decimalFromNumberText(text, scale, f, ctx);
            return exact ?? badValue(f, `decimal ${raw} does not fit scale ${scale}`);
          }
          return mismatch(f, "a base64 string, bytes or number (Decimal)", raw);
        },
      };
    }
    case "io.debezium.data.VariableScaleDecimal":
      return {
        type: { ...base, kind: "decimal" },
        decode: (raw, ctx, f) => {
          if (typeof raw !== "object" || raw === null) return mismatch(f, "a {scale, value} struct", raw);
          const { scale, value } = raw as { scale?: unknown; value?: unknown };
          const unscaled = Buffer.isBuffer(value) ? value : str(value, `${f}.value`);
          return decimalFromParts(unscaled, int(scale, `${f}.scale`), f, ctx);
        },
      };
    default:
      return undefined;
  }
}

/** decimal.handling.mode=string with the source type propagated: text a numeric column can take. */
export const decimalSourceTypes = /^(NUMERIC|DECIMAL|DEC|FIXED)$/i;
const MAX_DECIMAL_TEXT = MAX_INTEGER_DIGITS + MAX_FRACTION_DIGITS + 2;

export function decimalText(raw: unknown, _: DecodeContext, field: string): Value {
  if (raw === PLACEHOLDER) return UNCHANGED;
  const text = str(raw, field);
  if (text.length > MAX_DECIMAL_TEXT)
    throw new ShadowdbError(
      "DECODE_VALUE_TOO_LARGE",
      `field ${preview(field)}: decimal text of ${text.length} characters is beyond any target`,
    );
  return text;
}
