/**
 * What `shadowdb seed` will load: per mapped topic, the production table it comes from (Debezium
 * names topics <topic.prefix>.<schema>.<table>), the target table and the column pairs. Every
 * reason to refuse is found here, before anything is read or written.
 */
import { type Config, resolveTable, type TableMapping } from "../config/index.ts";
import { ShadowdbError } from "../errors.ts";
import type { QualifiedName, TableShape, TargetColumn } from "../target/dialect.ts";

export interface SeedTopic {
  topic: string;
  /** Whether the topic exists yet (a table never changed since the connector started has none). */
  exists: boolean;
  source: QualifiedName;
  mapping: TableMapping;
}

/** "schema.table", as the config and messages write a table. */
export const tableText = (name: QualifiedName) => `${name.schema}.${name.name}`;

/** The production table behind a Debezium topic: its last two dot-separated parts. */
export function sourceOfTopic(topic: string): QualifiedName | undefined {
  const parts = topic.split(".");
  if (parts.length < 3) return undefined;
  const [schema, name] = parts.slice(-2) as [string, string];
  return schema !== "" && name !== "" ? { schema, name } : undefined;
}

/**
 * The topics to seed: every existing topic a mapping covers, and the exact `topic` entries whose
 * topic does not exist yet. `only` ("schema.table" of the target) narrows it to one table.
 */
export function seedTopics(config: Config, existing: string[], only?: string): SeedTopic[] {
  if (config.apply.transactional === "source")
    throw new ShadowdbError(
      "SEED_UNSUPPORTED",
      "apply.transactional is source: its transaction metadata topic cannot start from a seed (use table mode, or the connector's snapshot)",
    );
  const names = new Set(existing);
  const candidates = [
    ...existing,
    ...config.tables.flatMap((entry) =>
      entry.topic !== undefined && !names.has(entry.topic) ? [entry.topic] : [],
    ),
  ];
  const topics: SeedTopic[] = [];
  const byTarget = new Map<string, string>();
  for (const topic of candidates) {
    const mapping = resolveTable(config, topic);
    if (!mapping) continue;
    const target = tableText(mapping.table);
    if (only !== undefined && target !== only) continue;
    const source = sourceOfTopic(topic);
    if (!source)
      throw new ShadowdbError(
        "SEED_SOURCE_MISSING",
        `topic ${topic} is not named <topic.prefix>.<schema>.<table>, so its production table is unknown`,
      );
    const masked = Object.keys(mapping.columns.mask);
    if (masked.length > 0)
      throw new ShadowdbError(
        "SEED_UNSUPPORTED",
        `${target} masks ${masked.join(", ")}: seed copies production's text as is, so masked tables load through the connector's snapshot`,
      );
    const other = byTarget.get(target);
    if (other !== undefined)
      throw new ShadowdbError(
        "SEED_UNSUPPORTED",
        `topics ${other} and ${topic} both feed ${target}; seed loads one source table into one empty table`,
      );
    byTarget.set(target, topic);
    topics.push({ topic, exists: names.has(topic), source, mapping });
  }
  if (only !== undefined && topics.length === 0)
    throw new ShadowdbError("USAGE_INVALID", `no mapped topic feeds ${only}`);
  return topics.sort((a, b) => a.topic.localeCompare(b.topic));
}

export interface ColumnPlan {
  /** Source column → target column, in COPY order. */
  pairs: { source: string; target: string }[];
  /** Source columns the target lacks (a migration dropped or renamed them): reported, not loaded. */
  skipped: string[];
}

/** The source's columns as the target names them: excluded ones left out, renamed ones renamed. */
export function renamedShape(shape: TableShape, mapping: TableMapping, name: QualifiedName): TableShape {
  const excluded = new Set(mapping.columns.exclude);
  const rename = (column: string) => mapping.columns.rename[column] ?? column;
  const columns = new Map<string, TargetColumn>();
  for (const c of shape.columns.values()) {
    if (!excluded.has(c.name)) columns.set(rename(c.name), { ...c, name: rename(c.name) });
  }
  return { name, columns, primaryKey: shape.primaryKey.map(rename) };
}

/** Which source columns load into which target columns. */
export function planColumns(source: TableShape, target: TableShape, mapping: TableMapping): ColumnPlan {
  const excluded = new Set(mapping.columns.exclude);
  const pairs: ColumnPlan["pairs"] = [];
  const skipped: string[] = [];
  for (const column of source.columns.keys()) {
    if (excluded.has(column)) continue;
    const renamed = mapping.columns.rename[column] ?? column;
    if (target.columns.has(renamed)) pairs.push({ source: column, target: renamed });
    else skipped.push(column);
  }
  return { pairs, skipped };
}
