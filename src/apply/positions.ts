/**
 * Where each partition is: the one owner of offsets. The target's stored positions are the truth
 * (written in the same transaction as the rows); the rest is what this instance has taken from
 * Kafka beyond them since its last assignment, so that a record is neither fetched twice into
 * memory nor applied twice, and a failed or interrupted apply knows where to go back to.
 */
import type { Item } from "../batch/items.ts";
import { type PartitionId, partitionId } from "../source/partition.ts";
import type { Position } from "../target/dialect.ts";

export interface PositionsOptions {
  /** Told each new stored position (health's lag, for one). */
  onStored?: (topic: string, partition: number, next: bigint) => void;
}

export class Positions {
  /** Next offset per partition, as stored in the target. */
  private readonly stored = new Map<PartitionId, bigint>();
  /** Next offset after the records handed to an apply that may not have committed yet. */
  private readonly dispatched = new Map<PartitionId, bigint>();
  /** Source mode: the next offset not yet held in memory (or streamed). */
  private readonly held = new Map<PartitionId, bigint>();
  /** Partitions sought back to their stored position since the last assignment. */
  private readonly sought = new Set<PartitionId>();
  /** Whether the stored positions were read from the target since the last assignment. */
  fresh = false;

  constructor(private readonly options: PositionsOptions = {}) {}

  /** The positions the target holds, as read from it. */
  load(rows: Position[]): void {
    for (const p of rows) this.stored.set(partitionId(p.topic, p.partition), BigInt(p.offset));
  }

  /** A commit moved a partition's stored position to `next`. */
  committed(topic: string, partition: number, next: string | bigint): void {
    const offset = BigInt(next);
    this.stored.set(partitionId(topic, partition), offset);
    this.options.onStored?.(topic, partition, offset);
  }

  /** The next offset the target holds for a partition, as this instance believes. */
  next(id: PartitionId): bigint | undefined {
    return this.stored.get(id);
  }

  /** The same, as the target stores it (what a fenced commit expects to find). */
  expected(topic: string, partition: number): string | undefined {
    return this.stored.get(partitionId(topic, partition))?.toString();
  }

  /** The items the target does not hold yet (a retry after a partial commit, a restart). */
  pending(items: Item[]): Item[] {
    let topic: string | undefined;
    let partition: number | undefined;
    let next: bigint | undefined;
    return items.filter(({ record }) => {
      if (record.topic !== topic || record.partition !== partition) {
        topic = record.topic;
        partition = record.partition;
        next = this.stored.get(partitionId(topic, partition));
      }
      return next === undefined || BigInt(record.offset) >= next;
    });
  }

  /** Every stored position, as /status shows them. */
  snapshot(): Record<PartitionId, string> {
    const out: Record<PartitionId, string> = {};
    for (const [id, next] of this.stored) out[id] = next.toString();
    return out;
  }

  /** A rebalance: what this instance took beyond the stored positions is no longer its own. */
  reassigned(): void {
    this.sought.clear();
    this.fresh = false;
    this.held.clear();
    this.dispatched.clear();
  }

  /**
   * Where a fetched batch starting at `first` should have started, when the target is behind
   * Kafka's group offset (a restored shadow): returned once per assignment, for one seek back.
   */
  seekBack(id: PartitionId, first: bigint): bigint | undefined {
    const stored = this.stored.get(id);
    if (this.dispatched.has(id) || stored === undefined || stored >= first || this.sought.has(id)) return;
    this.sought.add(id);
    return stored;
  }

  /** Below it a fetched record is applied already, handed to an apply, or held in memory. */
  floor(id: PartitionId): bigint | undefined {
    return this.held.get(id) ?? this.dispatched.get(id) ?? this.stored.get(id);
  }

  /** Records up to `next` are handed to an apply. */
  dispatch(id: PartitionId, next: bigint): void {
    this.dispatched.set(id, next);
  }

  /** The apply of records up to `next` ended (committed or failed). */
  settled(id: PartitionId, next?: bigint): void {
    if (next === undefined || this.dispatched.get(id) === next) this.dispatched.delete(id);
  }

  /** Source mode: records up to `next` are held in memory (or streamed). */
  hold(id: PartitionId, next: bigint): void {
    this.held.set(id, next);
  }

  /** Source mode: what was held is dropped (a stream rolled back), to be fetched again. */
  dropHeld(): void {
    this.held.clear();
  }
}
