/**
 * Building blocks shared by the config schema. Their messages start with "expected", so the
 * formatter (issues.ts) adds what was found, hiding secrets.
 */
import { z } from "zod";
import { identifierPattern, identifierRule, topicNamePattern, topicNameRule } from "./identifiers.ts";

/**
 * A strict object (unknown keys are errors, so typos are caught) whose unknown-key message
 * lists the keys that are allowed at that place.
 */
export function section<T extends z.core.$ZodLooseShape>(shape: T, expected = "expected a mapping") {
  const known = Object.keys(shape).join(", ");
  return z.strictObject(shape, {
    error: (issue) => {
      if (issue.code === "unrecognized_keys") return `unknown key (the keys here are: ${known})`;
      if (issue.code === "invalid_type") return expected;
      return undefined;
    },
  });
}

/**
 * YAML reads `${PORT}` as a string, so numbers and booleans also accept their spelling as a
 * string; the schema, not the interpolation, decides a value's type.
 */
function integerFromText(value: unknown): unknown {
  return typeof value === "string" && /^\s*-?\d+\s*$/.test(value) ? Number(value) : value;
}

function booleanFromText(value: unknown): unknown {
  if (typeof value !== "string") return value;
  const text = value.trim();
  if (text === "true") return true;
  if (text === "false") return false;
  return value;
}

/**
 * Not `.int()`: its failure stops zod before the cross-key checks, which would then hide their
 * findings until the next run.
 */
export function integer(min: number, max = Number.MAX_SAFE_INTEGER) {
  const expected = "expected an integer";
  return z.preprocess(
    integerFromText,
    z
      .number({ error: (issue) => (issue.code === "invalid_type" ? expected : undefined) })
      .refine(Number.isInteger, { error: expected })
      .min(min)
      .max(max),
  );
}

export const boolean = z.preprocess(booleanFromText, z.boolean());

export const nonEmpty = z.string().min(1);

export const columnName = z.string().regex(identifierPattern, {
  error: `expected a column name (${identifierRule})`,
});

export const topicName = z.string().regex(topicNamePattern, { error: `expected ${topicNameRule}` });

/**
 * An optional section: absent, or written with every key commented out (which YAML reads as
 * null), it takes its defaults.
 */
export function optional<T extends z.ZodType>(schema: T) {
  return z.preprocess((value) => (value === null ? undefined : value), schema.optional());
}

export function defaulted<T extends z.ZodType>(schema: T) {
  return z.preprocess((value) => (value === null ? undefined : value), schema.prefault({} as z.input<T>));
}
