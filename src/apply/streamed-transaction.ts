/**
 * Source mode, for transactions too large to hold (apply.maxHeldBytes): their events are written
 * as they arrive, chunk by chunk, into ONE open target transaction, which saves every partition's
 * position and commits only when the transactions it carries are complete. A reader with a
 * consistent snapshot sees them whole or not at all, as with a held transaction; what comes after
 * them waits in Kafka (the caller pauses those partitions), not in memory.
 *
 * The open transaction is the target session's until it ends: nothing else may use the session
 * meanwhile. So a chunk whose table shape was never resolved (which may create a table, add a
 * column or install an overlay, DDL that would commit or nest the transaction) is not written: the
 * stream fails with NeedsShapes, the caller resolves them outside any transaction and starts again.
 *
 * A record the target refuses does not sink the transaction: each chunk runs under a savepoint,
 * and a refused chunk is written again record by record, each under its own savepoint, the refused
 * ones kept as dead letters in the same transaction.
 */

import type { Item } from "../batch/items.ts";
import type { Column } from "../decode/index.ts";
import { ShadowdbError } from "../errors.ts";
import { type PartitionId, partitionId } from "../source/partition.ts";
import type { DeadLetter, Position, TargetTransaction, WriteOutcome } from "../target/dialect.ts";
import { type ApplyResult, fence } from "./apply.ts";
import { type ApplyContext, classified } from "./context.ts";
import { deadLetter, firstTry, reduced, type SetAside, toStore, tries } from "./letters.ts";
import { add, resolveShape, slices, tableWrites } from "./writes.ts";

/** Table shapes resolved outside any transaction: what a stream may write without DDL. */
export interface KnownShapes {
  /** The mapper hands out one columns array per schema: known by identity. */
  columns: WeakSet<Column[]>;
  /** Topics whose table was resolved at all (for rows without a schema). */
  topics: Set<string>;
}

/** A chunk needs a table shape resolved first: the stream is rolled back to start again. */
export class NeedsShapes extends ShadowdbError {
  constructor(readonly items: Item[]) {
    super("APPLY_SHAPE_UNRESOLVED", "a streamed transaction met a table shape not resolved yet");
    this.name = "NeedsShapes";
  }
}

const needsShape = (item: Item) => item.change !== undefined;

function isKnown(known: KnownShapes, item: Item): boolean {
  if (!needsShape(item)) return true;
  return item.columns ? known.columns.has(item.columns) : known.topics.has(item.record.topic);
}

/** Resolves (outside any transaction) the table shapes `items` need, and remembers them. */
export async function resolveShapes(ctx: ApplyContext, known: KnownShapes, items: Item[]): Promise<void> {
  for (const { topic, items: list } of slices(items)) {
    const unknown = list.filter((i) => !isKnown(known, i));
    if (unknown.length === 0) continue;
    const mapping = ctx.mappingFor(topic);
    if (!mapping) continue;
    await resolveShape(ctx, mapping, unknown);
    known.topics.add(topic);
    for (const item of unknown) if (item.columns) known.columns.add(item.columns);
  }
}

type Step =
  | { kind: "chunk"; items: Item[]; resolve: (r: ApplyResult) => void; reject: (e: unknown) => void }
  | { kind: "commit"; resolve: (p: Position[]) => void; reject: (e: unknown) => void };

export class StreamedTransaction {
  private readonly queue: Step[] = [];
  private wake: (() => void) | undefined;
  private failure: { error: unknown } | undefined;
  /** Commit was asked for: nothing more may be written. */
  private closed = false;
  private aborted = false;
  /** Next offset per partition written so far; the positions saved at commit. */
  private readonly next = new Map<PartitionId, Position>();
  /** Records set aside so far: reported (ctx.onDeadLetters) once the commit is in. */
  readonly setAside: SetAside[] = [];
  /** Settles when the target transaction has ended (committed or rolled back); never rejects. */
  readonly ended: Promise<void>;
  private readonly done: Promise<void>;

  constructor(
    private readonly ctx: ApplyContext,
    private readonly known: KnownShapes,
    /** Rows per write statement group, as apply.batchSize. */
    private readonly chunkSize: number,
  ) {
    const done = ctx.target.transaction((tx) => this.run(tx));
    this.done = done;
    this.ended = done.then(
      () => undefined,
      (error: unknown) => this.fail(error),
    );
  }

  /** Writes `items` (offset order per partition) into the open transaction; resolves once written. */
  write(items: Item[]): Promise<ApplyResult> {
    return new Promise((resolve, reject) => this.push({ kind: "chunk", items, resolve, reject }));
  }

  /** Saves the positions of every partition written and commits; resolves with those positions. */
  async commit(): Promise<Position[]> {
    const positions = await new Promise<Position[]>((resolve, reject) =>
      this.push({ kind: "commit", resolve, reject }),
    );
    await this.done;
    // Reported only now: a stream rolled back stores no letter, and its retry sets them aside again.
    if (this.setAside.length > 0) this.ctx.onDeadLetters(this.setAside);
    return positions;
  }

  /** Rolls the transaction back (the caller goes back to the stored positions). */
  async abort(): Promise<void> {
    this.aborted = true;
    this.fail(new ShadowdbError("INTERNAL_ERROR", "streamed transaction aborted"));
    await this.ended;
  }

  private push(step: Step): void {
    if (this.failure) {
      step.reject(this.failure.error);
      return;
    }
    if (this.closed) {
      step.reject(new ShadowdbError("INTERNAL_ERROR", "the streamed transaction is committing"));
      return;
    }
    if (step.kind === "commit") this.closed = true;
    this.queue.push(step);
    this.wake?.();
  }

  /** Rejects what waits; the loop, if running, throws it so the transaction rolls back. */
  private fail(error: unknown): void {
    if (!this.failure) this.failure = { error };
    for (const step of this.queue.splice(0)) step.reject(this.failure.error);
    this.wake?.();
  }

  private async nextStep(): Promise<Step> {
    while (this.queue.length === 0) {
      if (this.failure) throw this.failure.error;
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
      this.wake = undefined;
    }
    if (this.failure) throw this.failure.error;
    return this.queue.shift()!;
  }

  private async run(tx: TargetTransaction): Promise<void> {
    for (;;) {
      const step = await this.nextStep();
      try {
        if (step.kind === "commit") {
          const positions = [...this.next.values()];
          await tx.savePositions(this.ctx.groupId, positions);
          if (this.aborted) throw this.failure!.error;
          step.resolve(positions);
          return;
        }
        step.resolve(await this.chunk(tx, step.items));
      } catch (error) {
        this.fail(error);
        step.reject(error);
        throw error;
      }
    }
  }

  private async chunk(tx: TargetTransaction, items: Item[]): Promise<ApplyResult> {
    const { ctx } = this;
    const unknown = items.filter((i) => !isKnown(this.known, i));
    if (unknown.length > 0) throw new NeedsShapes(unknown);
    // Fencing, once per partition: a former owner's stream must not commit over the new owner's work.
    for (const item of items) {
      const { topic, partition } = item.record;
      const key = partitionId(topic, partition);
      if (this.next.has(key)) continue;
      const expected = await fence(ctx, tx, topic, partition);
      this.next.set(key, { topic, partition, offset: expected ?? item.record.offset });
    }
    const failed = items.filter((i) => i.error);
    if (failed.length > 0 && ctx.onError === "stop") throw failed[0]!.error;
    const letters: DeadLetter[] = failed.map((i) => deadLetter(i, i.error!));
    const good = items.filter((i) => !i.error);
    const outcome: WriteOutcome = { toCopy: 0, lostInserts: 0, hidden: 0 };
    let applied = 0;
    for (let start = 0; start < good.length; start += this.chunkSize) {
      const part = good.slice(start, start + this.chunkSize);
      try {
        add(outcome, await tx.savepoint(() => this.writes(tx, part)));
        applied += part.filter((i) => i.change).length;
      } catch (error) {
        const reason = classified(ctx, error);
        if (reason.retriable || ctx.onError === "stop") throw reason;
        for (const item of part) {
          try {
            add(outcome, await tx.savepoint(() => this.writes(tx, [item])));
            if (item.change) applied++;
          } catch (error) {
            const one = classified(ctx, error);
            if (one.retriable) throw one;
            letters.push(deadLetter(item, one));
          }
        }
      }
    }
    await this.store(tx, letters);
    for (const item of items) {
      const { topic, partition, offset } = item.record;
      this.next.set(partitionId(topic, partition), {
        topic,
        partition,
        offset: (BigInt(offset) + 1n).toString(),
      });
    }
    return { applied, deadLetters: letters, ...outcome };
  }

  /**
   * Stores letters under a savepoint, so that a store refusing one cannot sink the transaction: as
   * applyItems does, a letter refused for good is stored reduced, and refused again, not at all.
   */
  private async store(tx: TargetTransaction, letters: DeadLetter[]): Promise<void> {
    if (letters.length === 0) return;
    const { ctx } = this;
    const firsts = letters.map((letter) => firstTry(ctx, letter));
    try {
      await tx.savepoint(() => tx.saveDeadLetters(ctx.groupId, toStore(firsts)));
      for (const first of firsts) this.setAside.push(first);
      return;
    } catch (error) {
      const reason = classified(ctx, error);
      if (reason.retriable) throw reason;
    }
    for (const first of firsts) {
      const { letter } = first;
      let refused = first.refused;
      for (const stored of tries(first)) {
        if (stored === "nothing") {
          this.setAside.push({ letter, stored, refused });
          break;
        }
        try {
          const text = stored === "letter" ? letter : reduced(letter, refused);
          await tx.savepoint(() => tx.saveDeadLetters(ctx.groupId, [text]));
          this.setAside.push({ letter, stored, refused });
          break;
        } catch (error) {
          const reason = classified(ctx, error);
          if (reason.retriable) throw reason;
          refused = reason;
        }
      }
    }
  }

  private async writes(tx: TargetTransaction, items: Item[]): Promise<WriteOutcome> {
    const outcome: WriteOutcome = { toCopy: 0, lostInserts: 0, hidden: 0 };
    // Known shapes: resolved before, so resolving is a cache read, never DDL in the open transaction.
    for (const write of await tableWrites(this.ctx, slices(items))) add(outcome, await tx.write(write));
    return outcome;
  }
}
