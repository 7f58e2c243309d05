/**
 * `shadowdb seed`: the initial load straight from production's snapshot, at bulk-load speed,
 * instead of through a Debezium snapshot (every row a multi-KB JSON record through Kafka).
 *
 * Why the result equals production once the stream is applied on top: each topic's high-water
 * marks are read before the source snapshot opens, and a change committed after the snapshot
 * opened is published after it, so at an offset at or past those marks; the marks are stored as
 * the table's positions in the transaction that loads it, and `run` goes on from there. Records
 * past the marks that the snapshot already holds (committed before it, published after the marks
 * were read) are applied again: each carries the row's full image or its deletion, so applying
 * them again ends in the same rows. That needs a connector whose change stream already exists
 * (a replication slot): the seed refuses to start without one.
 */
import type { Config } from "../config/index.ts";
import { ShadowdbError } from "../errors.ts";
import type { Logger } from "../log.ts";
import type {
  Position,
  PositionReader,
  SeedSource,
  SeedTarget,
  TableLookup,
  TargetSession,
} from "../target/dialect.ts";
import { planColumns, renamedShape, type SeedTopic, seedTopics, tableText as text } from "./plan.ts";

export interface SeedOptions {
  config: Config;
  /** Prepared here (its positions are read); its owner closes it. */
  target: TargetSession & PositionReader & TableLookup;
  seedTarget: SeedTarget;
  source: SeedSource;
  /** Every topic the cluster has. */
  listTopics(): Promise<string[]>;
  /** Each partition's high-water mark: the offset its next record will get. */
  endOffsets(topic: string): Promise<{ partition: number; offset: string }[]>;
  /** Moves Kafka's group offsets up to the seed's (for lag tools; the target holds the truth). */
  commitOffsets?(topic: string, positions: Position[]): Promise<void>;
  log: Logger;
  /** Only the topic that feeds this target table ("schema.table"). */
  table?: string;
  signal?: AbortSignal;
}

export interface SeededTable {
  topic: string;
  source: string;
  table: string;
  /** loaded: rows copied; skipped: the group already has positions on the topic. */
  outcome: "loaded" | "skipped";
  rows: number;
  seconds: number;
  /** Source columns the target lacks (not loaded). */
  columnsSkipped: string[];
  positions: Position[];
}

export async function seed(options: SeedOptions): Promise<SeededTable[]> {
  const { config, target, source, log } = options;
  const groupId = config.kafka.groupId;
  const topics = seedTopics(config, await options.listTopics(), options.table);
  await target.prepare();
  const stored = new Set((await target.readPositions(groupId)).map((p) => p.topic));
  const problem = await source.captureProblem();
  if (problem !== undefined) throw new ShadowdbError("SEED_NO_CAPTURE", problem);

  // Before the snapshot opens: everything committed after it lands at or past these offsets.
  const ends = new Map<string, Position[]>();
  for (const t of topics) {
    if (!t.exists || stored.has(t.topic)) continue;
    const marks = await options.endOffsets(t.topic);
    ends.set(
      t.topic,
      marks.map((m) => ({ topic: t.topic, partition: m.partition, offset: m.offset })),
    );
  }
  await source.begin();
  const seeded: SeededTable[] = [];
  for (const t of topics) {
    options.signal?.throwIfAborted();
    if (stored.has(t.topic)) {
      log.info({ topic: t.topic }, "positions already stored for this topic: not seeded");
      seeded.push(report(t, "skipped", 0, 0, [], []));
      continue;
    }
    seeded.push(await seedOne(options, t, ends.get(t.topic) ?? []));
  }
  return seeded;
}

async function seedOne(options: SeedOptions, t: SeedTopic, positions: Position[]): Promise<SeededTable> {
  const { target, seedTarget, source, log, config } = options;
  const started = performance.now();
  const sourceShape = await source.describe(t.source);
  if (!sourceShape)
    throw new ShadowdbError(
      "SEED_SOURCE_MISSING",
      `topic ${t.topic} comes from ${text(t.source)}, which the seed source does not have`,
    );
  const table = t.mapping.table;
  let targetShape = await target.describe(table);
  if (!targetShape) {
    await seedTarget.createTableLike(table, renamedShape(sourceShape, t.mapping, table));
    targetShape = await target.describe(table);
    if (!targetShape) throw new ShadowdbError("TARGET_SCHEMA", `${text(table)} was not created`);
  }
  const { pairs, skipped } = planColumns(sourceShape, targetShape, t.mapping);
  if (skipped.length > 0)
    log.warn({ table: text(table), columns: skipped }, "the target lacks these source columns: not loaded");
  const rows = await seedTarget.seed({
    table,
    columns: pairs.map((p) => p.target),
    rows: source.rows(
      t.source,
      pairs.map((p) => p.source),
    ),
    groupId: config.kafka.groupId,
    positions,
  });
  if (positions.length > 0)
    await options
      .commitOffsets?.(t.topic, positions)
      .catch((error: unknown) =>
        log.warn({ err: error, topic: t.topic }, "moving Kafka's group offsets failed; run moves them later"),
      );
  const seconds = (performance.now() - started) / 1000;
  log.info({ topic: t.topic, table: text(table), rows, seconds }, "seeded");
  return report(t, "loaded", rows, seconds, skipped, positions);
}

function report(
  t: SeedTopic,
  outcome: SeededTable["outcome"],
  rows: number,
  seconds: number,
  columnsSkipped: string[],
  positions: Position[],
): SeededTable {
  return {
    topic: t.topic,
    source: text(t.source),
    table: text(t.mapping.table),
    outcome,
    rows,
    seconds: Number(seconds.toFixed(3)),
    columnsSkipped,
    positions,
  };
}
