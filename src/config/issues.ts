/**
 * zod's findings as `<key path>: <what was expected>, got <what was found>` lines. Messages
 * come from the schema where it has its own wording, otherwise from `expectations` below. A
 * message that starts with "expected" gets what was found appended (a secret only described,
 * never shown); any other message is complete as written.
 */
import type { z } from "zod";
import { describeValue } from "./describe.ts";
import { formatPath } from "./path.ts";

const typeNames: Record<string, string> = {
  string: "a string",
  number: "a number",
  int: "an integer",
  boolean: "true or false",
  object: "a mapping",
  record: "a mapping",
  array: "a list",
};

function count(n: number | bigint, singular: string, plural: string): string {
  return `${n} ${Number(n) === 1 ? singular : plural}`;
}

function bound(issue: z.core.$ZodRawIssue, limit: number | bigint, side: "least" | "most"): string {
  const origin = "origin" in issue ? issue.origin : undefined;
  if (origin === "string") return `expected at ${side} ${count(limit, "character", "characters")}`;
  if (origin === "array") return `expected at ${side} ${count(limit, "entry", "entries")}`;
  return `expected a number of at ${side} ${limit}`;
}

/** The parse-level error map: wording for zod's own checks, in the "expected …" form. */
export const expectations: z.core.$ZodErrorMap = (issue) => {
  switch (issue.code) {
    case "invalid_type":
      return `expected ${typeNames[issue.expected] ?? issue.expected}`;
    case "invalid_value":
      return issue.values.length === 1
        ? `expected ${JSON.stringify(issue.values[0])}`
        : `expected one of ${issue.values.join(", ")}`;
    case "too_small":
      return issue.origin === "string" && Number(issue.minimum) === 1
        ? "expected a non-empty string"
        : bound(issue, issue.minimum, "least");
    case "too_big":
      return bound(issue, issue.maximum, "most");
    case "invalid_union":
      return "options" in issue && Array.isArray(issue.options)
        ? `expected one of ${issue.options.join(", ")}`
        : "expected one of the forms this key accepts";
    case "unrecognized_keys":
      return "unknown key";
    default:
      return undefined;
  }
};

/** One line per problem; an unknown-keys finding becomes one line per key. */
export function formatIssues(issues: readonly z.core.$ZodIssue[]): string[] {
  return issues.flatMap((issue) => {
    if (issue.code === "unrecognized_keys") {
      return issue.keys.map((key) => `${formatPath([...issue.path, key])}: ${issue.message}`);
    }
    const where = formatPath(issue.path);
    if (!issue.message.startsWith("expected")) return [`${where}: ${issue.message}`];
    const input = foundAt(issue);
    const found =
      input === undefined ? ", but the key is missing" : `, got ${describeValue(input, issue.path)}`;
    return [`${where}: ${issue.message}${found}`];
  });
}

/** A discriminated union reports the whole object at the discriminator's path; show the discriminator. */
function foundAt(issue: z.core.$ZodIssue): unknown {
  const input = issue.input;
  if (issue.code !== "invalid_union" || !("discriminator" in issue)) return input;
  const key = issue.discriminator;
  return typeof input === "object" && input !== null && typeof key === "string"
    ? (input as Record<string, unknown>)[key]
    : input;
}

/**
 * Issues in the order their keys appear in the file, so the list reads top to bottom; a key
 * the file lacks sorts after its written siblings. Stable, so zod's order breaks ties.
 */
export function inDocumentOrder<T extends { path: readonly PropertyKey[] }>(
  issues: readonly T[],
  document: unknown,
): T[] {
  const rank = (path: readonly PropertyKey[]): number[] => {
    const ranks: number[] = [];
    let node = document;
    for (const segment of path) {
      if (Array.isArray(node) && typeof segment === "number") ranks.push(segment);
      else if (typeof node === "object" && node !== null) {
        const index = Object.keys(node).indexOf(String(segment));
        ranks.push(index < 0 ? Number.MAX_SAFE_INTEGER : index);
      } else ranks.push(Number.MAX_SAFE_INTEGER);
      node =
        typeof node === "object" && node !== null
          ? (node as Record<PropertyKey, unknown>)[segment]
          : undefined;
    }
    return ranks;
  };
  const ranked = issues.map((issue) => ({ issue, rank: rank(issue.path) }));
  ranked.sort((a, b) => compareRanks(a.rank, b.rank));
  return ranked.map(({ issue }) => issue);
}

function compareRanks(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const difference = (a[i] ?? 0) - (b[i] ?? 0);
    if (difference !== 0) return difference;
  }
  return a.length - b.length;
}
