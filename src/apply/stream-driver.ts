/**
 * Source mode, past apply.maxHeldBytes: the held transactions written as they arrive into one open
 * target transaction (StreamedTransaction), committed once every transaction it carries is
 * complete. What comes after them waits in Kafka: a partition reaching a record of another
 * transaction is paused there (a cut) and resumed after the commit, or earlier if that transaction
 * turns out to be committed before one the stream carries (its END arrives while the stream still
 * awaits one of its own), when it joins the stream. A failure rolls the stream back and sends every
 * partition it took back to its stored position.
 *
 * A little over 300 lines: cuts, joins and rollback share the stream's state and read best together.
 */
import type { Item } from "../batch/items.ts";
import type { Incomplete, SourceTransactions } from "../batch/source-transactions.ts";
import { ShadowdbError } from "../errors.ts";
import type { Health } from "../health/health.ts";
import { problem } from "../health/outage.ts";
import type { Logger } from "../log.ts";
import type { Metrics } from "../metrics/metrics.ts";
import type { KafkaSource } from "../source/consumer.ts";
import { type PartitionId, partitionId, splitPartitionId } from "../source/partition.ts";
import { backoffDelay, sleep } from "./backoff.ts";
import type { ApplyContext } from "./context.ts";
import { type AppliedSummary, emptySummary, summarize } from "./observe.ts";
import type { Positions } from "./positions.ts";
import type { Serial } from "./serial.ts";
import { reloadPositions } from "./step.ts";
import { type KnownShapes, NeedsShapes, resolveShapes, StreamedTransaction } from "./streamed-transaction.ts";

/** A partition stopped at a record of a transaction the stream does not carry (yet). */
interface Cut {
  topic: string;
  partition: number;
  offset: bigint;
  /** The transaction of the record it stopped at (none: it arrived while the stream committed). */
  group?: string;
}

interface Stream {
  /** Opened once the target session is free (the apply before it has ended). */
  tx?: StreamedTransaction;
  groups: Set<string>;
  /** Groups of the stream whose END may still come (pruned as they end). */
  awaiting: Set<string>;
  cuts: Map<PartitionId, Cut>;
  /** The first offset the stream took per partition: where to go back to if it fails. */
  from: Map<PartitionId, bigint>;
  items: number;
  /** What its chunks applied: reported once it commits (a rolled-back stream applied nothing). */
  summary: AppliedSummary;
  closing: boolean;
  /** Gives the target session back (the stream held the serial chain). */
  over: () => void;
}

export interface StreamDriverOptions {
  ctx: ApplyContext;
  /** Table shapes resolved outside any transaction, which a stream may write. */
  known: KnownShapes;
  chunkSize: number;
  transactions: SourceTransactions;
  positions: Positions;
  source: KafkaSource;
  health: Health;
  log: Logger;
  metrics?: Metrics;
  stats: { batches: number; retries: number };
  /** The target session, shared with the applies. */
  serial: Serial;
  /** A target read, retried with backoff while the target is away, until `stop`. */
  retrying: <T>(work: () => Promise<T>, stop: AbortSignal) => Promise<T>;
  /** The target took a chunk of the stream: it answers (health), though nothing is applied before the commit. */
  answered: () => void;
  /** The stream committed what its chunks applied. */
  applied: (summary: AppliedSummary) => void;
  /** Source transactions committed without all their events. */
  givenUp: (transactions: Incomplete[]) => void;
  /** The stream committed: its partitions' group offsets follow, its letters (if any) are sent on. */
  committed: (ids: PartitionId[], letters: boolean) => Promise<void>;
}

export class StreamDriver {
  private current: Stream | undefined;
  private attempt = 0;

  constructor(private readonly options: StreamDriverOptions) {}

  get active(): boolean {
    return this.current !== undefined;
  }

  /** Whether a partition is paused at a cut (what was fetched past it comes again). */
  cutAt(id: PartitionId): boolean {
    return this.current?.cuts.has(id) ?? false;
  }

  status(): { transactions: number; records: number; paused: number } | undefined {
    const stream = this.current;
    return stream && { transactions: stream.groups.size, records: stream.items, paused: stream.cuts.size };
  }

  /** The held transactions take more than apply.maxHeldBytes: written now, and their later events as they arrive. */
  async start(stop: AbortSignal): Promise<void> {
    const { transactions: source, serial, ctx, known, chunkSize } = this.options;
    const heldBytes = source.heldBytes;
    const { items, groups } = source.release();
    let over!: () => void;
    const released = new Promise<void>((resolve) => {
      over = resolve;
    });
    const stream: Stream = {
      groups,
      awaiting: new Set([...groups].filter((g) => source.awaitsEnd(g))),
      cuts: new Map(),
      from: new Map(),
      items: items.length,
      summary: emptySummary(),
      closing: false,
      over,
    };
    for (const item of items) {
      const id = partitionId(item.record.topic, item.record.partition);
      if (!stream.from.has(id)) stream.from.set(id, BigInt(item.record.offset));
    }
    this.current = stream;
    this.options.log.info(
      { heldBytes, transactions: groups.size, records: items.length },
      "held source transactions exceed apply.maxHeldBytes: writing them as they arrive, in one transaction",
    );
    await this.guarded(stream, stop, async () => {
      await serial.run(() => resolveShapes(ctx, known, items));
      // The open transaction keeps the target session until the stream is over.
      const tx = await new Promise<StreamedTransaction | undefined>((resolve) => {
        serial
          .run(() => {
            if (this.current !== stream) {
              resolve(undefined);
              return Promise.resolve();
            }
            stream.tx = new StreamedTransaction(ctx, known, chunkSize);
            resolve(stream.tx);
            return released;
          })
          .catch(() => undefined);
      });
      if (!tx) return;
      await this.write(stream, tx, items);
      await this.finish(stream);
    });
  }

  /** A batch of one partition while streaming: what the stream carries is written, the rest waits. */
  async feed(id: PartitionId, items: Item[], resolveOffset: (offset: string) => void, stop: AbortSignal) {
    const stream = this.current;
    if (stream) await this.guarded(stream, stop, () => this.take(stream, id, items, resolveOffset));
  }

  /** The timer's turn: a transaction may have become complete (or given up on) with no new record. */
  async tick(stop: AbortSignal): Promise<void> {
    const stream = this.current;
    if (stream) await this.guarded(stream, stop, () => this.finish(stream));
  }

  private async take(
    stream: Stream,
    id: PartitionId,
    items: Item[],
    resolveOffset: (offset: string) => void,
  ): Promise<void> {
    const admitted: Item[] = [];
    const joined: string[] = [];
    for (const item of items) {
      // Committing: whatever comes now waits for the next round.
      if (stream.closing || !this.carries(stream, item, joined)) {
        this.cut(stream, id, item);
        break;
      }
      this.options.transactions.note(item);
      admitted.push(item);
    }
    for (const group of joined) {
      for (const [cutId, cut] of stream.cuts) if (cut.group === group) this.resume(stream, cutId);
    }
    if (admitted.length === 0) return;
    const last = admitted.at(-1)!.record.offset;
    if (!stream.from.has(id)) stream.from.set(id, BigInt(admitted[0]!.record.offset));
    this.options.positions.hold(id, BigInt(last) + 1n);
    resolveOffset(last);
    stream.items += admitted.length;
    // Opened before the first batch streams: start() runs in the batch before.
    await this.write(stream, stream.tx!, admitted);
    await this.finish(stream);
  }

  /** Whether the stream carries `item`; an END that joins the stream is added to `joined`. */
  private carries(stream: Stream, item: Item, joined: string[]): boolean {
    const group = item.transaction?.group;
    if (group === undefined || stream.groups.has(group) || this.options.transactions.isFinished(group))
      return true;
    // An END read while the stream still awaits one of its own: that transaction committed
    // earlier (ENDs arrive in commit order), and its events may sit before the stream's own.
    if (item.transaction!.counts === undefined || !this.awaitingEnd(stream)) return false;
    stream.groups.add(group);
    joined.push(group);
    return true;
  }

  private awaitingEnd(stream: Stream): boolean {
    for (const group of stream.awaiting) {
      if (this.options.transactions.awaitsEnd(group)) return true;
      stream.awaiting.delete(group);
    }
    return false;
  }

  /** Stops a partition at `item`: paused, and fetched again from it when resumed. */
  private cut(stream: Stream, id: PartitionId, item: Item): void {
    const { topic, partition, offset } = item.record;
    stream.cuts.set(id, { topic, partition, offset: BigInt(offset), group: item.transaction?.group });
    this.options.positions.hold(id, BigInt(offset));
    this.options.source.pause(topic, partition);
    this.options.source.seek(topic, partition, offset);
  }

  private resume(stream: Stream, id: PartitionId): void {
    const cut = stream.cuts.get(id);
    if (!cut) return;
    stream.cuts.delete(id);
    try {
      this.options.source.resume(cut.topic, cut.partition);
    } catch (error) {
      this.options.log.debug({ err: error, topic: cut.topic }, "resuming a partition failed");
    }
  }

  private async write(stream: Stream, tx: StreamedTransaction, items: Item[]): Promise<void> {
    const started = performance.now();
    this.options.health.applying(true);
    try {
      const result = await tx.write(items);
      this.options.answered();
      // Counted, like its letters, when the stream commits: a rolled-back stream applied nothing.
      summarize(stream.summary, items, result, (performance.now() - started) / 1000);
    } finally {
      this.options.health.applying(false);
    }
  }

  /** Commits the stream once every transaction it carries is complete (or given up on). */
  private async finish(stream: Stream): Promise<void> {
    if (stream.closing || this.current !== stream || !stream.tx) return;
    const { transactions, ctx, stats, log } = this.options;
    const givenUp = transactions.settled(stream.groups);
    if (!givenUp) return;
    stream.closing = true;
    const positions = await stream.tx.commit();
    transactions.finish(stream.groups);
    for (const p of positions) ctx.positions.committed(p.topic, p.partition, p.offset);
    stats.batches++;
    this.attempt = 0;
    this.options.applied(stream.summary);
    this.options.givenUp(givenUp);
    log.info(
      { transactions: stream.groups.size, records: stream.items },
      "streamed source transactions committed",
    );
    this.current = undefined;
    for (const id of [...stream.cuts.keys()]) this.resume(stream, id);
    stream.over();
    await this.options.committed(
      positions.map((p) => partitionId(p.topic, p.partition)),
      stream.tx.setAside.length > 0,
    );
  }

  /**
   * Runs `work` on the stream; if it fails, the stream is rolled back and every partition it took
   * goes back to its stored position, to be fetched (and streamed) again: after a wait if the
   * failure may pass, after resolving table shapes if that is what it lacked. Others are fatal.
   */
  private async guarded(stream: Stream, stop: AbortSignal, work: () => Promise<void>): Promise<void> {
    try {
      await work();
    } catch (error) {
      if (this.current !== stream) return;
      const { log, metrics, positions, serial, ctx, known, health, stats } = this.options;
      const back = new Map(stream.from);
      for (const [id, cut] of stream.cuts) if (!back.has(id)) back.set(id, cut.offset);
      this.abort();
      await stream.tx?.ended;
      for (const [id, from] of back) {
        const { topic, partition } = splitPartitionId(id);
        try {
          this.options.source.seek(topic, partition, positions.next(id) ?? from);
        } catch (seekError) {
          log.debug({ err: seekError, topic, partition }, "seek after a failed stream failed");
        }
      }
      positions.dropHeld();
      this.options.transactions.clear();
      if (stop.aborted) return;
      if (error instanceof NeedsShapes) {
        log.info("a streamed transaction met a new table shape: resolving it and starting again");
        await this.options.retrying(() => serial.run(() => resolveShapes(ctx, known, error.items)), stop);
        return;
      }
      const reason = error instanceof ShadowdbError ? error : ctx.classify(error);
      if (!reason.retriable) throw error;
      stats.retries++;
      metrics?.retries.inc({ code: reason.code });
      if (reason.code.startsWith("TARGET_")) health.target(problem(error));
      const delay = backoffDelay(this.attempt++);
      log.warn({ err: error, delay: Math.round(delay) }, "streamed transaction failed; starting it again");
      await sleep(delay, stop);
      if (reason.code === "APPLY_FENCED") await serial.run(() => reloadPositions(ctx));
    }
  }

  /** Rolls the stream back (if any) and resumes what it paused; the caller refetches. */
  abort(): void {
    const stream = this.current;
    if (!stream) return;
    this.current = undefined;
    for (const id of [...stream.cuts.keys()]) this.resume(stream, id);
    if (stream.tx) stream.tx.abort().then(stream.over, stream.over);
    else stream.over();
  }
}
