/**
 * One `tables[]` entry: which topic(s) feed which target table, and what happens to columns on
 * the way. Checks that need the dialect (the table name's wording) or other entries (repeated
 * topics) live in schema.ts.
 */
import { z } from "zod";
import { isIdentifier } from "./identifiers.ts";
import { columnName, defaulted, nonEmpty, section, topicName } from "./schema-parts.ts";
import { patternError } from "./topic-pattern.ts";

const constantValue = z.union([z.string(), z.number(), z.boolean()], {
  error: (issue) =>
    issue.input === undefined
      ? 'required with strategy "constant" (the value every row gets)'
      : "expected a string, number or boolean",
});

/** hash: HMAC-SHA-256 keyed with masking.key, so equal values stay equal; null; redact: a fixed text; constant: `value`. */
export const maskRuleSchema = z.discriminatedUnion("strategy", [
  section({ strategy: z.literal("hash") }),
  section({ strategy: z.literal("null") }),
  section({ strategy: z.literal("redact") }),
  section({ strategy: z.literal("constant"), value: constantValue }),
]);

export type MaskRule = z.output<typeof maskRuleSchema>;

const columnList = z.array(columnName);

export const tableEntrySchema = section({
  topic: topicName.optional(),
  topicPattern: nonEmpty.optional(),
  table: z.string(),
  key: columnList.min(1).optional(),
  envelope: z.enum(["debezium", "flattened"]).default("debezium"),
  // Absent: each record's bytes tell (JSON text, or a schema registry frame).
  format: z.enum(["json", "avro"]).optional(),
  columns: defaulted(
    section({
      exclude: columnList.default([]),
      rename: z.record(z.string(), columnName).default({}),
      mask: z.record(z.string(), maskRuleSchema).default({}),
    }),
  ),
  diff: defaulted(section({ ignore: columnList.default([]) })),
  schema: section({ follow: z.enum(["safe", "none"]).optional() }).optional(),
}).check(z.superRefine(checkEntry, { when: () => true }));

export type TableEntry = z.output<typeof tableEntrySchema>;

type Issue = { path: PropertyKey[]; message: string; input?: unknown };

/**
 * Runs even when other keys of the entry failed (so that one run lists every problem); the
 * value may then be partly unparsed, hence the defensive reads.
 */
function checkEntry(value: unknown, ctx: z.core.$RefinementCtx<unknown>): void {
  const entry = record(value);
  if (!entry) return;
  const report = (issue: Issue) => ctx.addIssue({ code: "custom", ...issue });
  checkTopicChoice(entry, report);
  const columns = record(entry.columns) ?? {};
  const excluded = new Set(strings(columns.exclude));
  const key = strings(entry.key);
  for (const [list, path] of [
    [entry.key, ["key"]],
    [columns.exclude, ["columns", "exclude"]],
    [record(entry.diff)?.ignore, ["diff", "ignore"]],
  ] as const) {
    checkRepeats(list, [...path], report);
  }
  key.forEach((column, i) => {
    if (excluded.has(column)) {
      report({ path: ["key", i], message: `"${column}" is also in columns.exclude; a key column must stay` });
    }
  });
  checkRename(record(columns.rename), excluded, report);
  checkMask(record(columns.mask), excluded, new Set(key), report);
}

function checkTopicChoice(entry: Record<string, unknown>, report: (issue: Issue) => void): void {
  const hasTopic = entry.topic !== undefined;
  const hasPattern = entry.topicPattern !== undefined;
  if (hasTopic === hasPattern) {
    report({
      path: [],
      message: `needs exactly one of topic (an exact topic name) or topicPattern (a regular expression), found ${hasTopic ? "both" : "neither"}`,
    });
  }
  if (typeof entry.topicPattern === "string") {
    const reason = patternError(entry.topicPattern);
    if (reason !== undefined) {
      report({
        path: ["topicPattern"],
        message: `expected a regular expression (${reason})`,
        input: entry.topicPattern,
      });
    }
  }
}

function checkRepeats(list: unknown, path: PropertyKey[], report: (issue: Issue) => void): void {
  const seen = new Set<string>();
  strings(list).forEach((column, i) => {
    if (seen.has(column)) report({ path: [...path, i], message: `"${column}" is listed twice` });
    seen.add(column);
  });
}

function checkRename(
  rename: Record<string, unknown> | undefined,
  excluded: ReadonlySet<string>,
  report: (issue: Issue) => void,
): void {
  const targets = new Map<string, string>();
  for (const [source, target] of Object.entries(rename ?? {})) {
    const path = ["columns", "rename", source];
    checkSourceColumn(source, path, report);
    if (excluded.has(source)) {
      report({
        path,
        message: `"${source}" is also in columns.exclude; an excluded column cannot be renamed`,
      });
    }
    if (typeof target !== "string") continue;
    const earlier = targets.get(target);
    if (earlier !== undefined) {
      report({
        path,
        message: `renames to "${target}" as "${earlier}" does; two columns cannot share a name`,
      });
    }
    targets.set(target, source);
  }
}

function checkMask(
  mask: Record<string, unknown> | undefined,
  excluded: ReadonlySet<string>,
  key: ReadonlySet<string>,
  report: (issue: Issue) => void,
): void {
  for (const [column, rule] of Object.entries(mask ?? {})) {
    const path = ["columns", "mask", column];
    checkSourceColumn(column, path, report);
    if (excluded.has(column)) {
      report({
        path,
        message: `"${column}" is also in columns.exclude; an excluded column cannot be masked`,
      });
    }
    const strategy = record(rule)?.strategy;
    if (key.has(column) && typeof strategy === "string" && strategy !== "hash") {
      report({
        path: [...path, "strategy"],
        message: `"${strategy}" on key column "${column}" would merge distinct rows; only "hash" keeps keys apart`,
      });
    }
  }
}

/** Map keys name source columns: the same rule as every other column name. */
function checkSourceColumn(column: string, path: PropertyKey[], report: (issue: Issue) => void): void {
  if (!isIdentifier(column)) {
    report({
      path,
      message: `${JSON.stringify(column)} is not a column name (a letter or _, then letters, digits, _ or $; at most 63 characters)`,
    });
  }
}

export function record(value: unknown): Record<string, unknown> | undefined {
  return typeof value === "object" && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((item): item is string => typeof item === "string") : [];
}
