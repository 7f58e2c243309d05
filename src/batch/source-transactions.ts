/**
 * `apply.transactional: source`: each source transaction becomes visible in the shadow as a whole,
 * across tables. Records of every partition wait here until the transactions among them are
 * complete: END has arrived and every data collection END names, that this consumer reads, has
 * delivered all its events. What is taken is always a prefix of each partition, and never part of
 * a transaction without the rest.
 *
 * A transaction missing events it will never get (a record that failed to decode carries no
 * transaction id) is given up on when its collection moves on to a later transaction (a table's
 * events arrive in commit order), or after `timeoutMs` for a table that stays quiet (no event of
 * any transaction: an END read far ahead waits while an earlier transaction still fills the table). Events whose
 * END never comes are given up on when a later transaction's END covers their partition (ENDs
 * arrive in commit order too), or `timeoutMs` after their latest event. The caller logs what was
 * missing.
 *
 * What is held is counted in bytes (`heldBytes`): beyond its bound the caller streams the held
 * transactions instead (see streamed-transaction.ts), and from then on their events are only
 * counted here (`note`), never held, until `settle` says they may be committed.
 */
import { type PartitionId, partitionId } from "../source/partition.ts";
import type { Item } from "./items.ts";

/**
 * What a held item costs in memory, estimated from its record's bytes: the record itself (kafkajs
 * hands out slices of the fetch response), and the decoded, mapped change, which measured 0.25-0.31
 * of the record's bytes (recorded update and alltypes fixtures, 3.0 and 12.8 KB records: 754 and
 * 4,004 bytes of heap each) plus the item's own objects.
 */
export function heldCost(item: Item): number {
  const { key, value } = item.record;
  const bytes = (key?.length ?? 0) + (value?.length ?? 0);
  return 512 + bytes + Math.ceil(bytes / 3);
}

export interface SourceTransactionsOptions {
  /** Whether this consumer reads a data collection at all; END counts the others too. */
  consumes: (collection: string) => boolean;
  /** How long after END to wait for events that a later transaction has not yet ruled out. */
  timeoutMs: number;
  now?: () => number;
}

interface Transaction {
  seen: Map<string, number>;
  /** The highest offset of its records, per partition. */
  reach: Map<PartitionId, bigint>;
  /** When its latest event (or END) arrived: a transaction still arriving is not given up on. */
  lastAt: number;
  counts?: Map<string, number>;
  /** Position of END among all ENDs seen: the source's commit order. */
  order?: number;
  endedAt?: number;
}

export interface Incomplete {
  group: string;
  /** Data collection → events still missing (NaN: unknown, the transaction's END never came). */
  missing: Record<string, number>;
}

export interface Taken {
  items: Item[];
  /** Transactions committed without all their events. */
  givenUp: Incomplete[];
}

/** How many finished transaction ids to remember, so a straggler is not taken for a new one. */
const FINISHED_MEMORY = 10_000;

export class SourceTransactions {
  private readonly partitions = new Map<PartitionId, Item[]>();
  private readonly transactions = new Map<string, Transaction>();
  private readonly finished = new Set<string>();
  /** Per collection, the latest END order of a transaction with an event in it. */
  private readonly lastEnded = new Map<string, number>();
  /** Per collection, when its latest event (of any transaction) arrived. */
  private readonly collectionAt = new Map<string, number>();
  /** Per partition, the highest offset of a record whose transaction's END has arrived. */
  private readonly endedReach = new Map<PartitionId, bigint>();
  private ends = 0;
  private bytes = 0;
  private readonly now: () => number;

  constructor(private readonly options: SourceTransactionsOptions) {
    this.now = options.now ?? Date.now;
  }

  get size(): number {
    let n = 0;
    for (const list of this.partitions.values()) n += list.length;
    return n;
  }

  /** The estimated memory the held items take (heldCost). */
  get heldBytes(): number {
    return this.bytes;
  }

  /** Items of one partition, in offset order, after those added before. */
  add(items: Item[]): void {
    for (const item of items) {
      const { topic, partition } = item.record;
      const id = partitionId(topic, partition);
      const list = this.partitions.get(id) ?? [];
      this.partitions.set(id, list);
      list.push(item);
      this.bytes += heldCost(item);
      this.note(item);
    }
  }

  /** Counts an item toward its transaction without holding it (a streamed transaction's events). */
  note(item: Item): void {
    const mark = item.transaction;
    if (mark?.collection) this.collectionAt.set(mark.collection, this.now());
    if (!mark || this.finished.has(mark.group)) return;
    const tx: Transaction = this.transactions.get(mark.group) ?? {
      seen: new Map(),
      reach: new Map(),
      lastAt: 0,
    };
    this.transactions.set(mark.group, tx);
    tx.lastAt = this.now();
    tx.reach.set(partitionId(item.record.topic, item.record.partition), BigInt(item.record.offset));
    if (mark.collection) tx.seen.set(mark.collection, (tx.seen.get(mark.collection) ?? 0) + 1);
    if (mark.counts) {
      tx.counts = mark.counts;
      tx.order = ++this.ends;
      tx.endedAt = this.now();
    }
    if (tx.order !== undefined) this.ended(tx);
  }

  /** A transaction committed already: its stragglers belong to no transaction. */
  isFinished(group: string): boolean {
    return this.finished.has(group);
  }

  /** Whether the transaction's END may still come: not seen yet, and the events not orphaned. */
  awaitsEnd(group: string): boolean {
    const tx = this.transactions.get(group);
    return tx !== undefined && tx.order === undefined && !this.orphaned(tx);
  }

  /**
   * Hands over every held item, per partition in offset order, to be streamed, and the
   * transactions they belong to; from now on their events are counted (`note`), not held.
   */
  release(): { items: Item[]; groups: Set<string> } {
    const items: Item[] = [];
    const groups = new Set<string>();
    for (const list of this.partitions.values()) {
      for (const item of list) {
        items.push(item);
        const group = item.transaction?.group;
        if (group !== undefined && this.transactions.has(group)) groups.add(group);
      }
    }
    this.partitions.clear();
    this.bytes = 0;
    return { items, groups };
  }

  /** Undefined while one of `groups` may still complete; otherwise what those that did not lack. */
  settled(groups: Set<string>): Incomplete[] | undefined {
    const givenUp: Incomplete[] = [];
    for (const group of groups) {
      const verdict = this.verdict(group);
      if (verdict === undefined) return undefined;
      if (Object.keys(verdict.missing).length > 0) givenUp.push(verdict);
    }
    return givenUp;
  }

  /** The transactions are committed: their stragglers belong to none from now on. */
  finish(groups: Set<string>): void {
    for (const group of groups) if (this.transactions.delete(group)) this.remember(group);
  }

  private ended(tx: Transaction): void {
    const order = tx.order!;
    for (const collection of tx.seen.keys()) {
      if ((this.lastEnded.get(collection) ?? 0) < order) this.lastEnded.set(collection, order);
    }
    for (const [id, offset] of tx.reach) {
      if ((this.endedReach.get(id) ?? -1n) < offset) this.endedReach.set(id, offset);
    }
  }

  /** Without END: orphaned once a later transaction in one of its partitions has ended, or too old. */
  private orphaned(tx: Transaction): boolean {
    for (const [id, offset] of tx.reach) if ((this.endedReach.get(id) ?? -1n) > offset) return true;
    return this.now() - tx.lastAt >= this.options.timeoutMs;
  }

  /** Undefined while the transaction may still complete; otherwise what it lacks (possibly nothing). */
  private verdict(group: string): Incomplete | undefined {
    if (this.finished.has(group)) return { group, missing: {} };
    const tx = this.transactions.get(group);
    if (!tx) return undefined;
    if (!tx.counts || tx.order === undefined) {
      if (!this.orphaned(tx)) return undefined;
      return { group, missing: Object.fromEntries([...tx.seen.keys()].map((c) => [c, Number.NaN])) };
    }
    const missing: Record<string, number> = {};
    let open = false;
    for (const [collection, count] of tx.counts) {
      if (!this.options.consumes(collection)) continue;
      const short = count - (tx.seen.get(collection) ?? 0);
      if (short <= 0) continue;
      missing[collection] = short;
      // Quiet: neither this transaction nor its table has delivered anything for timeoutMs. An
      // END read far ahead waits while an earlier transaction's events still fill the table.
      const since = Math.max(tx.endedAt!, tx.lastAt, this.collectionAt.get(collection) ?? 0);
      const quiet = this.now() - since >= this.options.timeoutMs;
      if ((this.lastEnded.get(collection) ?? 0) <= tx.order && !quiet) open = true;
    }
    if (open) return undefined;
    return { group, missing };
  }

  /** Removes and returns what can be committed now, in offset order per partition. */
  take(): Taken {
    const verdicts = new Map<string, Incomplete | undefined>();
    const settled = (item: Item) => {
      const group = item.transaction?.group;
      if (group === undefined) return true;
      if (!verdicts.has(group)) verdicts.set(group, this.verdict(group));
      return verdicts.get(group) !== undefined;
    };
    const cuts = new Map<string, number>();
    for (const [id, list] of this.partitions) {
      let i = 0;
      while (i < list.length && settled(list[i]!)) i++;
      cuts.set(id, i);
    }
    // A settled transaction with an item behind another partition's cut must wait whole.
    for (let changed = true; changed; ) {
      changed = false;
      const held = new Set<string>();
      for (const [id, list] of this.partitions) {
        for (let i = cuts.get(id)!; i < list.length; i++) {
          const group = list[i]!.transaction?.group;
          if (group !== undefined) held.add(group);
        }
      }
      for (const [id, list] of this.partitions) {
        const cut = cuts.get(id)!;
        for (let i = 0; i < cut; i++) {
          const group = list[i]!.transaction?.group;
          if (group === undefined || !held.has(group)) continue;
          cuts.set(id, i);
          changed = true;
          break;
        }
      }
    }
    const items: Item[] = [];
    const taken = new Set<string>();
    for (const [id, list] of this.partitions) {
      // One at a time: a spread of a long prefix overflows the call stack (a 125k-event transaction did).
      for (const item of list.splice(0, cuts.get(id)!)) {
        if (item.transaction) taken.add(item.transaction.group);
        this.bytes -= heldCost(item);
        items.push(item);
      }
      if (list.length === 0) this.partitions.delete(id);
    }
    const givenUp: Incomplete[] = [];
    for (const group of taken) {
      const verdict = verdicts.get(group);
      if (verdict && Object.keys(verdict.missing).length > 0) givenUp.push(verdict);
      if (this.transactions.delete(group)) this.remember(group);
    }
    return { items, givenUp };
  }

  private remember(group: string): void {
    this.finished.add(group);
    if (this.finished.size > FINISHED_MEMORY) {
      const oldest = this.finished.values().next().value as string;
      this.finished.delete(oldest);
    }
  }

  /** Transactions still waiting, for logs and status. */
  waiting(): Incomplete[] {
    const out: Incomplete[] = [];
    for (const [group, tx] of this.transactions) {
      const missing: Record<string, number> = {};
      for (const [collection, count] of tx.counts ?? []) {
        const short = count - (tx.seen.get(collection) ?? 0);
        if (this.options.consumes(collection) && short > 0) missing[collection] = short;
      }
      out.push({ group, missing });
    }
    return out;
  }

  /** Forgets everything held (after a rebalance the records are fetched again). */
  clear(): void {
    this.partitions.clear();
    this.transactions.clear();
    this.endedReach.clear();
    this.collectionAt.clear();
    this.bytes = 0;
  }
}
