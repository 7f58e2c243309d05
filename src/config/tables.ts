/**
 * Topic → target table routing. An exact `topic` beats any pattern; among patterns the first
 * entry in the file wins. Patterns are compiled once per config and answers are remembered per
 * topic, since the same few topics are asked about for every record.
 */
import { ShadowdbError } from "../errors.ts";
import { parseTableName, type TableName, tableNameProblem } from "./identifiers.ts";
import type { Config } from "./schema.ts";
import type { MaskRule, TableEntry } from "./table-entry.ts";
import { compileTopicPattern, fillTemplate, parseTemplate, type TemplatePart } from "./topic-pattern.ts";

export interface TableMapping {
  /** The entry's index in `tables`, for messages that point back to the config. */
  readonly entry: number;
  readonly table: TableName;
  /** Source column names; absent means the message key's fields. */
  readonly key?: readonly string[];
  /** What the topic's row records are: Debezium envelopes, or ExtractNewRecordState rows. */
  readonly envelope: "debezium" | "flattened";
  readonly columns: {
    readonly exclude: readonly string[];
    readonly rename: Readonly<Record<string, string>>;
    readonly mask: Readonly<Record<string, MaskRule>>;
  };
  readonly diff: { readonly ignore: readonly string[] };
  /** This table's schema.follow, when the entry overrides the top-level one. */
  readonly schemaFollow?: "safe" | "none";
}

interface PatternRoute {
  entry: number;
  pattern: RegExp;
  template: TemplatePart[];
}

interface Router {
  exact: Map<string, TableMapping>;
  patterns: PatternRoute[];
  answers: Map<string, TableMapping | undefined>;
}

/** Enough for every topic of a large cluster; beyond it the memory is simply started over. */
const maxRememberedTopics = 10_000;

const routers = new WeakMap<Config, Router>();

/**
 * The mapping for `topic`, or undefined when no entry covers it. Throws CONFIG_INVALID when a
 * pattern covers the topic but its `table` template does not yield "schema.table" for it.
 */
export function resolveTable(config: Config, topic: string): TableMapping | undefined {
  const router = routerFor(config);
  const exact = router.exact.get(topic);
  if (exact) return exact;
  if (router.answers.has(topic)) return router.answers.get(topic);
  const mapping = matchPattern(config, router.patterns, topic);
  if (router.answers.size >= maxRememberedTopics) router.answers.clear();
  router.answers.set(topic, mapping);
  return mapping;
}

function routerFor(config: Config): Router {
  let router = routers.get(config);
  if (!router) {
    router = { exact: new Map(), patterns: [], answers: new Map() };
    for (const [entry, spec] of config.tables.entries()) {
      if (spec.topic !== undefined) {
        router.exact.set(spec.topic, mappingOf(spec, entry, tableFor(config, entry, spec.topic, spec.table)));
      } else if (spec.topicPattern !== undefined) {
        const template = parseTemplate(spec.table);
        router.patterns.push({ entry, pattern: compileTopicPattern(spec.topicPattern), template });
      }
    }
    routers.set(config, router);
  }
  return router;
}

function matchPattern(
  config: Config,
  patterns: readonly PatternRoute[],
  topic: string,
): TableMapping | undefined {
  for (const { entry, pattern, template } of patterns) {
    const match = pattern.exec(topic);
    if (!match) continue;
    const table = tableFor(config, entry, topic, fillTemplate(template, match));
    return mappingOf(config.tables[entry]!, entry, table);
  }
  return undefined;
}

/** parseConfig has checked exact names; a pattern's result, or a hand-built config, is checked here. */
function tableFor(config: Config, entry: number, topic: string, name: string): TableName {
  const table = parseTableName(name);
  if (table) return table;
  const problem = tableNameProblem(name, config.target.dialect);
  throw new ShadowdbError(
    "CONFIG_INVALID",
    `tables[${entry}].table: topic ${JSON.stringify(topic)} gives ${JSON.stringify(name)}; ${problem}`,
  );
}

function mappingOf(spec: TableEntry, entry: number, table: TableName): TableMapping {
  return {
    entry,
    table,
    ...(spec.key === undefined ? {} : { key: spec.key }),
    envelope: spec.envelope,
    columns: spec.columns,
    diff: spec.diff,
    ...(spec.schema?.follow === undefined ? {} : { schemaFollow: spec.schema.follow }),
  };
}

/**
 * What the consumer subscribes to: exact topics and the same whole-name patterns that
 * resolveTable uses (a bare `new RegExp(topicPattern)` would also match longer names).
 */
export function topicSubscriptions(config: Config): (string | RegExp)[] {
  const router = routerFor(config);
  return [...router.exact.keys(), ...router.patterns.map(({ pattern }) => pattern)];
}

/**
 * The config entry that writes `table` (for its diff noise columns): an exact `table`, or a
 * pattern whose template can yield the name (each $n standing for one or more characters).
 */
export function entryForTable(config: Config, table: TableName): TableEntry | undefined {
  const name = `${table.schema}.${table.name}`;
  for (const spec of config.tables) {
    if (spec.topic !== undefined && spec.table === name) return spec;
  }
  for (const spec of config.tables) {
    if (spec.topicPattern === undefined) continue;
    const source = parseTemplate(spec.table)
      .map((part) => (typeof part === "string" ? part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&") : "(.+)"))
      .join("");
    if (new RegExp(`^${source}$`).test(name)) return spec;
  }
  return undefined;
}
