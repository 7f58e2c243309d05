/**
 * The pipeline below Kafka, fed by the recorded stream: decode → map → apply, with the overlay on
 * and positions stored with the rows, as `shadowdb run` does it. The initial rows go in at once;
 * production's later transactions follow one at a time, `paceMs` apart, so that the user sees
 * production keep changing the shadow while they write to it. Records a persisted database holds
 * already (`--data`, an earlier run) are skipped by their stored positions.
 */

import { sleep } from "../apply/backoff.ts";
import type { ApplyContext } from "../apply/context.ts";
import { reportSetAside } from "../apply/observe.ts";
import { Positions } from "../apply/positions.ts";
import { ApplyStep, countApplied, reloadPositions } from "../apply/step.ts";
import { type Item, prepareItems } from "../batch/items.ts";
import { decoderFor } from "../batch/prepare.ts";
import { type Config, resolveTable } from "../config/index.ts";
import type { KafkaRecord, RecordDecoder } from "../decode/index.ts";
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
  private readonly positions = new Positions();
  private readonly step: ApplyStep;
  private readonly reload: () => Promise<void>;
  private failure: unknown;

  constructor(private readonly options: ReplayOptions) {
    const { config, target, classify, log } = options;
    this.decoder = decoderFor(config);
    this.tables = new TargetTables(target, log, { idHeadroom: BigInt(config.overlay.idHeadroom) });
    const ctx: ApplyContext = {
      target,
      classify,
      tables: this.tables,
      groupId: config.kafka.groupId,
      mappingFor: (topic) => resolveTable(config, topic),
      onError: config.onError,
      overlay: true,
      positions: this.positions,
      onDeadLetters: (setAside) => reportSetAside(setAside, log, this.stats, undefined),
    };
    // As the materializer applies: what may pass is retried with backoff, never skipped.
    this.step = new ApplyStep(ctx, log, {
      applied: (_items, result) => countApplied(this.stats, result),
      retrying: () => {
        this.stats.retries++;
      },
    });
    this.reload = () => reloadPositions(ctx);
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
    return {
      groupId: this.options.config.kafka.groupId,
      overlay: true,
      replay: { ...this.progress },
      positions: this.positions.snapshot(),
      stats: { ...this.stats },
      idHeadroom: Object.fromEntries(this.tables.idHeadroom),
    };
  }

  /** Replays the stream, then waits for `signal`; closes the target either way. */
  async run(signal: AbortSignal): Promise<void> {
    const { target, stream, paceMs, onInitialRows } = this.options;
    try {
      await target.prepare();
      await this.reload();
      const { initial, transactions } = this.split(inSourceTransactions(this.prepare(stream)));
      await this.apply(initial, signal);
      if (signal.aborted) return;
      this.progress.totalTransactions = transactions.length;
      this.progress.transactions = transactions.filter(
        (t) => this.positions.pending(t.items).length === 0,
      ).length;
      this.progress.initialRows = true;
      onInitialRows?.();
      // Those an earlier run applied (`--data`) are counted already.
      for (const transaction of transactions.filter((t) => this.positions.pending(t.items).length > 0)) {
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

  private async apply(items: Item[], signal: AbortSignal): Promise<void> {
    if (signal.aborted) return;
    try {
      await this.step.apply(items, { signal });
    } catch (error) {
      // Stopped while a failure was waited out: nothing is lost, the next start goes on from here.
      if (!signal.aborted) throw error;
    }
  }
}
