/**
 * The pipeline below Kafka, fed by the recorded stream: decode → map → apply, with the overlay on
 * and positions stored with the rows, as `shadowdb run` does it. The initial rows go in at once;
 * production's later transactions follow one at a time, `paceMs` apart, so that the user sees
 * production keep changing the shadow while they write to it. Records a persisted database holds
 * already (`--data`, an earlier run) are skipped by their stored positions.
 */

import { type ApplyContext, applyItems } from "../apply/apply.ts";
import { backoffDelay, sleep } from "../apply/backoff.ts";
import { reportSetAside } from "../apply/observe.ts";
import { type Item, prepareItems } from "../batch/items.ts";
import { type Config, resolveTable } from "../config/index.ts";
import { type KafkaRecord, RecordDecoder } from "../decode/index.ts";
import { ShadowdbError } from "../errors.ts";
import type { Logger } from "../log.ts";
import { Mapper } from "../map/mapper.ts";
import type { ApplyTarget, ClassifiedError } from "../target/dialect.ts";
import { TargetTables } from "../target/tables.ts";
import { inSourceTransactions, type SourceTransaction } from "./transactions.ts";

export interface ReplayOptions {
  config: Config;
  target: ApplyTarget;
  classify: (error: unknown) => ClassifiedError;
  log: Logger;
  /** Production's recorded messages: insert-only transactions first (the initial rows), then changes. */
  stream: KafkaRecord[];
  /** The pause before each of production's transactions after the initial rows. */
  paceMs: number;
  /** Called once the initial rows are in the shadow. */
  onInitialRows?: () => void;
}

const aborted = (signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener("abort", () => resolve(), { once: true });
  });

const partitionKey = (topic: string, partition: number) => `${topic}[${partition}]`;

export class Replay {
  readonly stats = {
    applied: 0,
    deadLetters: 0,
    unstorableLetters: 0,
    retries: 0,
    toCopy: 0,
    lostInserts: 0,
    hidden: 0,
  };
  readonly progress = { initialRows: false, transactions: 0, totalTransactions: 0, done: false };
  private readonly decoder: RecordDecoder;
  private readonly tables: TargetTables;
  private readonly ctx: ApplyContext;
  /** Next offset per partition, as stored in the target. */
  private readonly positions = new Map<string, bigint>();
  private failure: unknown;

  constructor(private readonly options: ReplayOptions) {
    const { config, target, classify, log } = options;
    this.decoder = new RecordDecoder({
      binaryHandlingMode: config.decode.binaryHandlingMode,
      maxRecordBytes: config.decode.maxRecordBytes,
      before: "deletes",
    });
    this.tables = new TargetTables(target, log, { idHeadroom: BigInt(config.overlay.idHeadroom) });
    this.ctx = {
      target,
      classify,
      tables: this.tables,
      groupId: config.kafka.groupId,
      mappingFor: (topic) => resolveTable(config, topic),
      onError: config.onError,
      overlay: true,
      onCommitted: (topic, partition, next) =>
        this.positions.set(partitionKey(topic, partition), BigInt(next)),
      expectedPosition: (topic, partition) => this.positions.get(partitionKey(topic, partition))?.toString(),
      onDeadLetters: (setAside) => reportSetAside(setAside, log, this.stats, undefined),
    };
  }

  /** Why the demo should be restarted: the replay failed for good. */
  healthReasons(): string[] {
    if (this.failure === undefined) return [];
    return [`the replay stopped: ${(this.failure as { code?: string }).code ?? String(this.failure)}`];
  }

  /** Why the shadow is not current yet. */
  readyReasons(): string[] {
    const reasons = this.healthReasons();
    if (!this.progress.initialRows) reasons.push("the initial rows are still loading");
    return reasons;
  }

  status(): Record<string, unknown> {
    const positions: Record<string, string> = {};
    for (const [key, next] of this.positions) positions[key] = next.toString();
    return {
      groupId: this.options.config.kafka.groupId,
      overlay: true,
      replay: { ...this.progress },
      positions,
      stats: { ...this.stats },
      idHeadroom: Object.fromEntries(this.tables.idHeadroom),
    };
  }

  /** Replays the stream, then waits for `signal`; closes the target either way. */
  async run(signal: AbortSignal): Promise<void> {
    const { target, stream, paceMs, onInitialRows } = this.options;
    try {
      await target.prepare();
      await this.loadPositions();
      const { initial, transactions } = this.split(inSourceTransactions(this.prepare(stream)));
      await this.apply(initial, signal);
      if (signal.aborted) return;
      this.progress.totalTransactions = transactions.length;
      this.progress.transactions = transactions.filter((t) => this.pending(t.items).length === 0).length;
      this.progress.initialRows = true;
      onInitialRows?.();
      // Those an earlier run applied (`--data`) are counted already.
      for (const transaction of transactions.filter((t) => this.pending(t.items).length > 0)) {
        await sleep(paceMs, signal);
        if (signal.aborted) return;
        await this.apply(transaction.items, signal);
        this.progress.transactions++;
      }
      this.progress.done = true;
      await aborted(signal);
    } catch (error) {
      this.failure = error;
      throw error;
    } finally {
      await target.close();
    }
  }

  /** Each topic's records (consecutive in the stream) decoded and mapped, in offset order. */
  private prepare(records: KafkaRecord[]): Item[][] {
    const byTopic = new Map<string, KafkaRecord[]>();
    for (const record of records) {
      const list = byTopic.get(record.topic) ?? [];
      byTopic.set(record.topic, list);
      list.push(record);
    }
    return [...byTopic].map(([topic, list]) => {
      const mapping = resolveTable(this.options.config, topic);
      const mapper = mapping ? new Mapper(mapping, this.options.config.masking.key) : undefined;
      return prepareItems(list, this.decoder, mapper);
    });
  }

  /** The leading insert-only transactions are the rows production had when the demo starts. */
  private split(all: SourceTransaction[]): { initial: Item[]; transactions: SourceTransaction[] } {
    const createsOnly = (t: SourceTransaction) =>
      t.items.every((i) => !i.change || this.decoder.decode(i.record).op === "c");
    const first = all.findIndex((t) => !createsOnly(t));
    const changesFrom = first === -1 ? all.length : first;
    return {
      initial: all.slice(0, changesFrom).flatMap((t) => t.items),
      transactions: all.slice(changesFrom),
    };
  }

  private async loadPositions(): Promise<void> {
    const stored = await this.options.target.readPositions(this.options.config.kafka.groupId);
    for (const p of stored) this.positions.set(partitionKey(p.topic, p.partition), BigInt(p.offset));
  }

  /** The items the target does not hold yet. */
  private pending(items: Item[]): Item[] {
    return items.filter((i) => {
      const next = this.positions.get(partitionKey(i.record.topic, i.record.partition));
      return next === undefined || BigInt(i.record.offset) >= next;
    });
  }

  /** As the materializer does it: what may pass is retried with backoff, never skipped. */
  private async apply(items: Item[], signal: AbortSignal): Promise<void> {
    const { log } = this.options;
    for (let attempt = 0; ; attempt++) {
      const pending = this.pending(items);
      if (pending.length === 0 || signal.aborted) return;
      try {
        const result = await applyItems(this.ctx, pending);
        this.stats.applied += result.applied;
        this.stats.toCopy += result.toCopy;
        this.stats.lostInserts += result.lostInserts;
        this.stats.hidden += result.hidden;
        return;
      } catch (error) {
        if (!(error instanceof ShadowdbError && error.retriable)) throw error;
        this.stats.retries++;
        const delay = backoffDelay(attempt);
        log.warn({ err: error, attempt, delay: Math.round(delay) }, "retrying");
        await sleep(delay, signal);
        if (error.code === "APPLY_FENCED") await this.loadPositions();
      }
    }
  }
}
