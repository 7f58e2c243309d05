/**
 * What `shadowdb status` reads without a running instance: the positions the target stores
 * (the source of truth, docs/design.md §2) against each partition's end offset, the size of every
 * installed overlay, and the dead letters kept. Read-only: nothing is created, and a target that
 * shadowdb never wrote simply has no positions yet.
 */
import type { Admin } from "kafkajs";
import { type Config, redactUrl, resolveTable } from "../config/index.ts";
import { overlaidTables } from "../overlay/admin.ts";
import { overlayNames } from "../overlay/names.ts";
import type { Position, QualifiedName, SchemaRecords } from "../target/dialect.ts";
import { type DriftEntry, recordedDrift } from "../target/drift.ts";
import type { DialectModule } from "../target/load.ts";

export interface PartitionStatus {
  topic: string;
  partition: number;
  /** The stored next offset; null when nothing was applied from this partition yet. */
  position: string | null;
  /** The partition's end offset; null when the topic is gone. */
  end: string | null;
  /** Records from the position (or where the group would start) to the end. */
  lag: string | null;
}

export interface OverlayStatus {
  table: string;
  owned: number;
  hidden: number;
}

export type DeadLetterStatus =
  | { store: "table"; table: string; stored: number }
  | { store: "topic"; topic: string; outbox: number; onTopic: number | null };

/** A table whose shadow lacks or narrows columns production has (as shadowdb last recorded them). */
export interface DriftStatus {
  table: string;
  columns: DriftEntry[];
}

export interface TargetStatus {
  target: string;
  positions: Position[];
  overlays: OverlayStatus[];
  deadLetters: DeadLetterStatus;
  drift: DriftStatus[];
}

/** The outbox the topic store is fed from (src/run/create.ts names it the same). */
const outbox: QualifiedName = { schema: "", name: "shadowdb_dlq_outbox" };

export async function readTargetStatus(config: Config, dialect: DialectModule): Promise<TargetStatus> {
  const letters = config.deadLetter;
  const target = new dialect.Target(config.target.url, letters.kind === "table" ? letters.table : outbox);
  try {
    let positions: Position[];
    try {
      positions = await target.readPositions(config.kafka.groupId);
    } catch (error) {
      // No shadowdb_positions table: nothing has been applied to this target yet.
      if (dialect.classify(error).code !== "TARGET_SCHEMA") throw error;
      positions = [];
    }
    const overlays: OverlayStatus[] = [];
    for (const table of await overlaidTables(target, undefined)) {
      const sizes = await target.overlaySizes(overlayNames(table));
      overlays.push({ table: `${table.schema}.${table.name}`, ...sizes });
    }
    const stored = await target.countDeadLetters(config.kafka.groupId);
    const deadLetters: DeadLetterStatus =
      letters.kind === "table"
        ? { store: "table", table: `${letters.table.schema}.${letters.table.name}`, stored }
        : { store: "topic", topic: letters.topic, outbox: stored, onTopic: null };
    const drift = await readDrift(config, target, positions);
    return { target: redactUrl(config.target.url), positions, overlays, deadLetters, drift };
  } finally {
    await target.close();
  }
}

/** Drift of the tables the stored positions' topics map to (docs/schema.md). */
async function readDrift(
  config: Config,
  target: SchemaRecords,
  positions: Position[],
): Promise<DriftStatus[]> {
  const tables = new Map<string, QualifiedName>();
  for (const p of positions) {
    try {
      const table = resolveTable(config, p.topic)?.table;
      if (table) tables.set(`${table.schema}.${table.name}`, table);
    } catch {
      // A topic the config no longer maps well: the partitions list shows it.
    }
  }
  const drift: DriftStatus[] = [];
  for (const [id, table] of [...tables].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const known = await target.knownColumns(table).catch(() => undefined);
    const shape = known && (await target.describe(table));
    const columns = known && shape ? recordedDrift(known, shape, target.dialect) : [];
    if (columns.length > 0) drift.push({ table: id, columns });
  }
  return drift;
}

/**
 * Every partition of the topics the config maps (and of any topic a position is stored for),
 * with its lag. Where nothing is stored the group starts at the beginning or the end of the
 * partition (kafka.fromBeginning), so that is what the lag is counted from.
 */
export async function readPartitions(
  config: Config,
  admin: Admin,
  positions: Position[],
): Promise<{ partitions: PartitionStatus[]; topics: string[] }> {
  const topics = await admin.listTopics();
  const stored = new Map(positions.map((p) => [`${p.topic}\u0000${p.partition}`, p.offset]));
  const wanted = new Set(
    topics.filter((topic) => {
      try {
        return resolveTable(config, topic) !== undefined;
      } catch {
        return true;
      }
    }),
  );
  for (const p of positions) wanted.add(p.topic);
  if (config.apply.transactional === "source" && topics.includes(config.apply.transactionTopic!))
    wanted.add(config.apply.transactionTopic!);
  const partitions: PartitionStatus[] = [];
  for (const topic of [...wanted].sort()) {
    if (!topics.includes(topic)) {
      for (const p of positions.filter((q) => q.topic === topic))
        partitions.push({ topic, partition: p.partition, position: p.offset, end: null, lag: null });
      continue;
    }
    const offsets = (await admin.fetchTopicOffsets(topic)).sort((a, b) => a.partition - b.partition);
    for (const o of offsets) {
      const position = stored.get(`${topic}\u0000${o.partition}`) ?? null;
      const start = position ?? (config.kafka.fromBeginning ? o.low : o.high);
      const lag = BigInt(o.high) - BigInt(start);
      partitions.push({
        topic,
        partition: o.partition,
        position,
        end: o.high,
        lag: (lag < 0n ? 0n : lag).toString(),
      });
    }
  }
  return { partitions, topics };
}

/** Records on the dead-letter topic (end minus start over its partitions); null when it does not exist. */
export async function countTopicRecords(
  admin: Admin,
  topic: string,
  topics: string[],
): Promise<number | null> {
  if (!topics.includes(topic)) return null;
  const offsets = await admin.fetchTopicOffsets(topic);
  return offsets.reduce((n, o) => n + Number(BigInt(o.high) - BigInt(o.low)), 0);
}
