/** What an applied transaction tells health and metrics: counts per table and op, delays, letters. */
import type { Metrics } from "../metrics/metrics.ts";
import type { ApplyResult } from "./apply.ts";
import type { Item } from "./batch.ts";
import type { Health } from "./health.ts";

export interface Observers {
  health: Health;
  metrics?: Metrics;
  /** The target table a topic's changes go to (`schema.table`), as a metrics label. */
  tableOf: (topic: string) => string | undefined;
}

/** The topic's inner map, made on first use. */
function byTopic<K, V>(maps: Map<string, Map<K, V>>, topic: string): Map<K, V> {
  let inner = maps.get(topic);
  if (!inner) {
    inner = new Map();
    maps.set(topic, inner);
  }
  return inner;
}

export function observeApplied(
  observers: Observers,
  items: Item[],
  result: ApplyResult,
  seconds: number,
  now = Date.now(),
): void {
  const { health, metrics, tableOf } = observers;
  const lettered = new Set(result.deadLetters.map((l) => `${l.topic}\u0000${l.partition}\u0000${l.offset}`));
  // Keyed by topic, then partition or op: no string built per item (a batch has thousands).
  const last = new Map<string, Map<number, Item>>();
  const perOp = new Map<string, Map<string, number>>();
  for (const item of items) {
    const { record, origin } = item;
    if (!origin) continue;
    // Health needs only each partition's last change.
    byTopic(last, record.topic).set(record.partition, item);
    if (!metrics) continue;
    if (lettered.size > 0 && lettered.has(`${record.topic}\u0000${record.partition}\u0000${record.offset}`))
      continue;
    const ops = byTopic(perOp, record.topic);
    ops.set(origin.op, (ops.get(origin.op) ?? 0) + 1);
    // Snapshot rows carry the time they were read, not a commit: no delay to speak of.
    if (origin.snapshot === false && origin.sourceMs !== undefined)
      metrics.sourceDelaySeconds.observe(Math.max(0, now - origin.sourceMs) / 1000);
  }
  for (const partitions of last.values())
    for (const { record, origin } of partitions.values())
      health.applied(record.topic, record.partition, origin!.sourceMs, origin!.snapshot);
  if (!metrics) return;
  for (const [topic, ops] of perOp) {
    const table = tableOf(topic) ?? topic;
    for (const [op, n] of ops) metrics.changesApplied.inc({ table, op }, n);
  }
  for (const letter of result.deadLetters)
    metrics.deadLetters.inc({ topic: letter.topic, code: letter.code });
  metrics.applySeconds.observe(seconds);
  metrics.batchRecords.observe(items.length);
  if (result.toCopy > 0) metrics.overlayRouted.inc({ outcome: "to_copy" }, result.toCopy);
  if (result.lostInserts > 0) metrics.overlayRouted.inc({ outcome: "lost_insert" }, result.lostInserts);
  if (result.hidden > 0) metrics.overlayRouted.inc({ outcome: "hidden" }, result.hidden);
}
