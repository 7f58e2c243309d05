/**
 * `shadowdb resync --table T`: brings one shadow table back to production, online, through the
 * connector's own incremental snapshot. The snapshot's `r` events travel the table's topic like
 * any change, so the running `shadowdb run` applies them overlay-aware (an owned key's row goes
 * to the production copy, the shadow's version stays) and in order with the stream (Debezium's
 * snapshot windows drop a chunk's row when a streamed change to it falls inside the window).
 *
 * Steps: find the topics the config routes to T; send an execute-snapshot signal per topic to
 * `<prefix>.signals`; follow `<prefix>.notifications` until Debezium reports the snapshot
 * COMPLETED (or failed); wait until the shadow's stored positions reach the topic's end as it was
 * then (every `r` event applied); then, when production can be read, delete the shadow's rows
 * whose keys production no longer has (sweep.ts), which no snapshot event can do.
 */
import type { TableName } from "../config/identifiers.ts";
import { type Config, resolveTable } from "../config/index.ts";
import { ShadowdbError } from "../errors.ts";
import type { Logger } from "../log.ts";
import { overlayNames } from "../overlay/names.ts";
import type { KeyReader, OverlayRegistry, PositionReader, Transactions } from "../target/dialect.ts";
import { copyDirect, type DirectResult } from "./direct.ts";
import type { ResyncKafka } from "./kafka.ts";
import {
  executeSnapshotSignal,
  notificationTopic,
  parseNotification,
  type SnapshotProgress,
  type SourceTable,
  signalTopic,
  snapshotProgress,
  topicsForTable,
} from "./signal.ts";
import { type SweepResult, sweepDeleted } from "./sweep.ts";

export interface ResyncOptions {
  config: Config;
  table: TableName;
  target: OverlayRegistry & PositionReader & Transactions;
  kafka: ResyncKafka;
  /** Production and shadow key readers for the sweep; without them deleted rows are left. */
  keys?: { shadow: KeyReader; production: KeyReader };
  /** Copy production's rows directly (direct.ts) instead of asking the connector for a snapshot. */
  direct?: boolean;
  log: Logger;
  /** For each step: the snapshot's completion, then the stream's applying it. */
  timeoutMs: number;
  /** Called as each step starts, for the command's progress lines. */
  progress?: (line: string) => void;
  sleep?: (ms: number) => Promise<void>;
}

export interface ResyncedTopic {
  topic: string;
  collection: string;
  /** The snapshot path: the signal's id; null with --direct. */
  signalId: string | null;
  /** Rows Debezium read, as its TABLE_SCAN_COMPLETED notification counts them. */
  rowsScanned: string | null;
  /** The snapshot path: the positions the shadow reached, every snapshot event up to them applied. */
  appliedThrough: { partition: number; offset: string }[];
  /** --direct: what the copy wrote. */
  direct: DirectResult | null;
  sweep: SweepResult | null;
}

export interface ResyncReport {
  table: string;
  overlay: boolean;
  topics: ResyncedTopic[];
}

export async function resync(options: ResyncOptions): Promise<ResyncReport> {
  const { config, table, target } = options;
  const name = `${table.schema}.${table.name}`;
  const sources = topicsForTable(config, table, await options.kafka.listTopics());
  if (sources.length === 0)
    throw new ShadowdbError(
      "RESYNC_TABLE_UNMAPPED",
      `no topic the config maps writes ${name} (checked tables[] and the cluster's topics)`,
    );
  const shape = await target.describe(table);
  if (!shape)
    throw new ShadowdbError(
      "RESYNC_TABLE_UNMAPPED",
      `${name} does not exist in the target: run creates it first`,
    );
  const overlaid = (await target.listOverlays()).some(
    (t) => t.schema === table.schema && t.name === table.name,
  );
  const topics: ResyncedTopic[] = [];
  if (options.direct && !options.keys)
    throw new ShadowdbError(
      "USAGE_INVALID",
      "--direct reads production: give --source-url or seed.source.url",
    );
  for (const source of sources) {
    const [schema, tableName] = source.collection.split(".") as [string, string];
    const common = {
      target,
      table: shape,
      ...(overlaid ? { overlay: overlayNames(table) } : {}),
      source: { schema, name: tableName },
      mapping: resolveTable(config, source.topic)!,
      groupId: config.kafka.groupId,
      positions: (await options.kafka.endOffsets(source.topic)).map(({ partition }) => ({
        topic: source.topic,
        partition,
      })),
    };
    let snapshot: { signalId: string | null; rowsScanned: string | null } = {
      signalId: null,
      rowsScanned: null,
    };
    let appliedThrough: { partition: number; offset: string }[] = [];
    let direct: DirectResult | null = null;
    if (options.direct && options.keys) {
      options.progress?.(`${source.topic}: copying ${source.collection} from production, page by page`);
      direct = await copyDirect({ ...common, production: options.keys.production });
    } else {
      snapshot = await snapshotTopic(options, source);
      appliedThrough = await waitApplied(options, source.topic);
    }
    let sweep: SweepResult | null = null;
    if (options.keys) {
      options.progress?.(`${source.topic}: deleting the shadow's rows whose keys production no longer has`);
      sweep = await sweepDeleted({
        ...common,
        shadow: options.keys.shadow,
        production: options.keys.production,
      });
    }
    topics.push({
      topic: source.topic,
      collection: source.collection,
      ...snapshot,
      appliedThrough,
      direct,
      sweep,
    });
  }
  return { table: name, overlay: overlaid, topics };
}

async function snapshotTopic(
  options: ResyncOptions,
  source: SourceTable,
): Promise<{ signalId: string; rowsScanned: string | null }> {
  const { kafka } = options;
  const signals = signalTopic(source.prefix);
  const notifications = notificationTopic(source.prefix);
  const existing = new Set(await kafka.listTopics());
  for (const [topic, what] of [
    [signals, "signal"],
    [notifications, "notification"],
  ] as const) {
    if (!existing.has(topic))
      throw new ShadowdbError(
        "RESYNC_SIGNAL",
        `topic ${topic} does not exist: the connector with topic.prefix ${source.prefix} has no Kafka ${what} channel (connectors/README.md, "Signals": create ${signals} with one partition, then apply the connector)`,
      );
  }
  const from = await kafka.endOffsets(notifications);
  const message = executeSnapshotSignal(source);
  options.progress?.(
    `${source.topic}: asking connector ${source.prefix} for an incremental snapshot of ${source.collection} (signal ${message.id})`,
  );
  await kafka.send(signals, message).catch((error: unknown) => {
    throw new ShadowdbError("RESYNC_SIGNAL", `sending to ${signals}: ${(error as Error).message}`, {
      cause: error,
    });
  });
  let state: SnapshotProgress = { state: "running" };
  // A timer of our own, not AbortSignal.timeout: that one does not keep the process alive.
  const abort = new AbortController();
  const timer = setTimeout(
    () => abort.abort(new ShadowdbError("RESYNC_TIMEOUT", "timeout")),
    options.timeoutMs,
  );
  const deadline = abort.signal;
  await kafka
    .watch(
      notifications,
      from,
      (value) => {
        const notification = parseNotification(value);
        if (notification) state = snapshotProgress(state, notification, message.id);
        return state.state !== "running";
      },
      deadline,
    )
    .catch((error: unknown) => {
      if (!deadline.aborted) throw error;
      throw new ShadowdbError(
        "RESYNC_TIMEOUT",
        `no COMPLETED notification for signal ${message.id} on ${notifications} within ${options.timeoutMs / 1000} s: is the connector running with read.only and the Kafka signal channel? (On MySQL/MariaDB a read-only snapshot's window closes at production's next transaction.)`,
      );
    })
    .finally(() => clearTimeout(timer));
  const final = state as SnapshotProgress;
  if (final.state === "failed")
    throw new ShadowdbError("RESYNC_SNAPSHOT_FAILED", `${source.collection}: ${final.reason}`);
  return { signalId: message.id, rowsScanned: final.state === "completed" ? (final.rows ?? null) : null };
}

/**
 * Waits until the shadow's stored positions for `topic` reach its end offsets as they are a
 * moment after COMPLETED, i.e. until the running `shadowdb run` has applied every snapshot event.
 * Debezium hands the last chunk's rows to Connect before the COMPLETED notification, and Connect
 * sends in that order; but records for partitions led by different brokers are acknowledged
 * independently, so the notification can be readable a few milliseconds before the last rows.
 * The grace second covers that.
 */
async function waitApplied(
  options: ResyncOptions,
  topic: string,
): Promise<{ partition: number; offset: string }[]> {
  const sleep = options.sleep ?? ((ms: number) => new Promise((r) => setTimeout(r, ms)));
  await sleep(1000);
  const ends = (await options.kafka.endOffsets(topic)).filter((p) => p.offset !== "0");
  options.progress?.(
    `${topic}: waiting for shadowdb run to apply up to ${ends.map((p) => `[${p.partition}]@${p.offset}`).join(", ")}`,
  );
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    const stored = new Map(
      (await options.target.readPositions(options.config.kafka.groupId))
        .filter((p) => p.topic === topic)
        .map((p) => [p.partition, BigInt(p.offset)]),
    );
    const behind = ends.filter((p) => (stored.get(p.partition) ?? -1n) < BigInt(p.offset));
    if (behind.length === 0) return ends;
    if (Date.now() >= deadline)
      throw new ShadowdbError(
        "RESYNC_TIMEOUT",
        `${topic}: the shadow's positions (group ${options.config.kafka.groupId}) did not reach ${behind
          .map((p) => `[${p.partition}]@${p.offset} (at ${stored.get(p.partition) ?? "none"})`)
          .join(", ")} within ${options.timeoutMs / 1000} s: is shadowdb run running with this config?`,
      );
    await sleep(500);
  }
}
