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

export function observeApplied(
  observers: Observers,
  items: Item[],
  result: ApplyResult,
  seconds: number,
  now = Date.now(),
): void {
  const { health, metrics, tableOf } = observers;
  const lettered = new Set(result.deadLetters.map((l) => `${l.topic}\u0000${l.partition}\u0000${l.offset}`));
  const counts = new Map<string, { table: string; op: string; n: number }>();
  // Health needs only each partition's last change.
  const last = new Map<string, Item>();
  for (const item of items)
    if (item.origin) last.set(`${item.record.topic}\u0000${item.record.partition}`, item);
  for (const { record, origin } of last.values())
    health.applied(record.topic, record.partition, origin!.sourceMs, origin!.snapshot);
  if (!metrics) return;
  for (const { record, origin } of items) {
    if (!origin) continue;
    if (lettered.size > 0 && lettered.has(`${record.topic}\u0000${record.partition}\u0000${record.offset}`))
      continue;
    const table = tableOf(record.topic) ?? record.topic;
    const id = `${table}\u0000${origin.op}`;
    const count = counts.get(id) ?? { table, op: origin.op, n: 0 };
    count.n++;
    counts.set(id, count);
    // Snapshot rows carry the time they were read, not a commit: no delay to speak of.
    if (origin.snapshot === false && origin.sourceMs !== undefined)
      metrics.sourceDelaySeconds.observe(Math.max(0, now - origin.sourceMs) / 1000);
  }
  for (const { table, op, n } of counts.values()) metrics.changesApplied.inc({ table, op }, n);
  for (const letter of result.deadLetters)
    metrics.deadLetters.inc({ topic: letter.topic, code: letter.code });
  metrics.applySeconds.observe(seconds);
  metrics.batchRecords.observe(items.length);
  if (result.toCopy > 0) metrics.overlayRouted.inc({ outcome: "to_copy" }, result.toCopy);
  if (result.lostInserts > 0) metrics.overlayRouted.inc({ outcome: "lost_insert" }, result.lostInserts);
  if (result.hidden > 0) metrics.overlayRouted.inc({ outcome: "hidden" }, result.hidden);
}
