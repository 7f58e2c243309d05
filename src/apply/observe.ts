/** What an applied transaction tells health and metrics: counts per table and op, delays, letters. */

import type { Item } from "../batch/items.ts";
import type { Health } from "../health/health.ts";
import type { Logger } from "../log.ts";
import type { Metrics } from "../metrics/metrics.ts";
import type { ApplyResult } from "./apply.ts";
import type { SetAside } from "./letters.ts";

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
  metrics.applySeconds.observe(seconds);
  metrics.batchRecords.observe(items.length);
  if (result.toCopy > 0) metrics.overlayRouted.inc({ outcome: "to_copy" }, result.toCopy);
  if (result.lostInserts > 0) metrics.overlayRouted.inc({ outcome: "lost_insert" }, result.lostInserts);
  if (result.hidden > 0) metrics.overlayRouted.inc({ outcome: "hidden" }, result.hidden);
}

export interface LetterCounts {
  /** Letters stored (whole or reduced): as many as the store received. */
  deadLetters: number;
  /** Records set aside whose letter the store refused even reduced (DEAD_LETTER_UNSTORABLE). */
  unstorableLetters: number;
}

/**
 * Records set aside, as each commit that stored their letters reports them (ApplyContext's
 * onDeadLetters): logged, counted and measured once each, interrupted batch or not.
 */
export function reportSetAside(
  setAside: SetAside[],
  log: Logger,
  counts: LetterCounts,
  metrics: Metrics | undefined,
): void {
  for (const { letter, stored, refused } of setAside) {
    const { topic, partition, offset, code } = letter;
    const refusal = refused && { refused: refused.code, refusal: refused.message };
    if (stored === "nothing") {
      counts.unstorableLetters++;
      metrics?.deadLetters.inc({ topic, code: "DEAD_LETTER_UNSTORABLE" });
      log.error(
        { topic, partition, offset, code, errorCode: "DEAD_LETTER_UNSTORABLE", ...refusal },
        `the dead-letter store refused this record's letter, reduced too; skipped: ${letter.message}`,
      );
      continue;
    }
    counts.deadLetters++;
    metrics?.deadLetters.inc({ topic, code });
    if (stored === "letter") log.warn({ topic, partition, offset, code }, letter.message);
    else log.warn({ topic, partition, offset, code, stored, ...refusal }, letter.message);
  }
}
