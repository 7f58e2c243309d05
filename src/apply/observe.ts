/** What an applied transaction tells health and metrics: counts per table and op, delays, letters. */

import type { Item, Origin } from "../batch/items.ts";
import type { Health } from "../health/health.ts";
import type { Logger } from "../log.ts";
import type { Metrics } from "../metrics/metrics.ts";
import type { ApplyResult } from "./apply.ts";
import type { SetAside } from "./letters.ts";
import { type AppliedCounts, countApplied } from "./step.ts";

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

/**
 * What applied writes did, in the few figures health and metrics need (no record kept): a stream
 * gathers one per chunk and reports it once its transaction commits, so that a stream rolled back
 * and written again is counted once.
 */
export interface AppliedSummary {
  counts: AppliedCounts;
  /** Per topic, changes applied per Debezium op (dead letters left out). */
  perOp: Map<string, Map<string, number>>;
  /** Source delays (ms, as measured when written) of non-snapshot changes, with how many had each. */
  delays: Map<number, number>;
  /** Per topic and partition, the last change: health's lag and snapshot marker. */
  last: Map<string, Map<number, Origin>>;
  /** Each write's duration (s) and record count, as one apply's. */
  writes: { seconds: number; records: number }[];
}

export function emptySummary(): AppliedSummary {
  return {
    counts: { applied: 0, toCopy: 0, lostInserts: 0, hidden: 0 },
    perOp: new Map(),
    delays: new Map(),
    last: new Map(),
    writes: [],
  };
}

/** Adds the write of `items` (which took `seconds`, measured at `now`) to `into`. */
export function summarize(
  into: AppliedSummary,
  items: Item[],
  result: ApplyResult,
  seconds: number,
  now = Date.now(),
): AppliedSummary {
  countApplied(into.counts, result);
  into.writes.push({ seconds, records: items.length });
  const lettered = new Set(result.deadLetters.map((l) => `${l.topic}\u0000${l.partition}\u0000${l.offset}`));
  // Keyed by topic, then partition or op: no string built per item (a batch has thousands).
  for (const item of items) {
    const { record, origin } = item;
    if (!origin) continue;
    byTopic(into.last, record.topic).set(record.partition, origin);
    if (lettered.size > 0 && lettered.has(`${record.topic}\u0000${record.partition}\u0000${record.offset}`))
      continue;
    const ops = byTopic(into.perOp, record.topic);
    ops.set(origin.op, (ops.get(origin.op) ?? 0) + 1);
    // Snapshot rows carry the time they were read, not a commit: no delay to speak of.
    if (origin.snapshot === false && origin.sourceMs !== undefined) {
      const delay = Math.max(0, now - origin.sourceMs);
      into.delays.set(delay, (into.delays.get(delay) ?? 0) + 1);
    }
  }
  return into;
}

/** Tells health, metrics and `counts` what committed. */
export function reportApplied(observers: Observers, summary: AppliedSummary, counts?: AppliedCounts): void {
  const { health, metrics, tableOf } = observers;
  if (counts) {
    counts.applied += summary.counts.applied;
    counts.toCopy += summary.counts.toCopy;
    counts.lostInserts += summary.counts.lostInserts;
    counts.hidden += summary.counts.hidden;
  }
  for (const [topic, partitions] of summary.last)
    for (const [partition, origin] of partitions)
      health.applied(topic, partition, origin.sourceMs, origin.snapshot);
  if (!metrics) return;
  for (const [delay, n] of summary.delays)
    for (let i = 0; i < n; i++) metrics.sourceDelaySeconds.observe(delay / 1000);
  for (const [topic, ops] of summary.perOp) {
    const table = tableOf(topic) ?? topic;
    for (const [op, n] of ops) metrics.changesApplied.inc({ table, op }, n);
  }
  for (const { seconds, records } of summary.writes) {
    metrics.applySeconds.observe(seconds);
    metrics.batchRecords.observe(records);
  }
  const { toCopy, lostInserts, hidden } = summary.counts;
  if (toCopy > 0) metrics.overlayRouted.inc({ outcome: "to_copy" }, toCopy);
  if (lostInserts > 0) metrics.overlayRouted.inc({ outcome: "lost_insert" }, lostInserts);
  if (hidden > 0) metrics.overlayRouted.inc({ outcome: "hidden" }, hidden);
}

/** One committed apply of `items`: health, metrics (and `counts`, if given) told at once. */
export function observeApplied(
  observers: Observers,
  items: Item[],
  result: ApplyResult,
  seconds: number,
  now = Date.now(),
  counts?: AppliedCounts,
): void {
  reportApplied(observers, summarize(emptySummary(), items, result, seconds, now), counts);
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
