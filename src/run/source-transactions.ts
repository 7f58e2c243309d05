/**
 * `apply.transactional: source`: each source transaction becomes visible in the shadow as a whole,
 * across tables. Records of every partition wait here until the transactions among them are
 * complete: END has arrived and every data collection END names, that this consumer reads, has
 * delivered all its events. What is taken is always a prefix of each partition, and never part of
 * a transaction without the rest.
 *
 * A transaction missing events it will never get (a record that failed to decode carries no
 * transaction id) is given up on when its collection moves on to a later transaction (a table's
 * events arrive in commit order), or after `timeoutMs` for a table that stays quiet. Events whose
 * END never comes are given up on when a later transaction's END covers their partition (ENDs
 * arrive in commit order too), or `timeoutMs` after they arrived. The caller logs what was missing.
 */
import type { Item } from "./batch.ts";

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
  reach: Map<string, bigint>;
  firstAt: number;
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
  private readonly partitions = new Map<string, Item[]>();
  private readonly transactions = new Map<string, Transaction>();
  private readonly finished = new Set<string>();
  /** Per collection, the latest END order of a transaction with an event in it. */
  private readonly lastEnded = new Map<string, number>();
  /** Per partition, the highest offset of a record whose transaction's END has arrived. */
  private readonly endedReach = new Map<string, bigint>();
  private ends = 0;
  private readonly now: () => number;

  constructor(private readonly options: SourceTransactionsOptions) {
    this.now = options.now ?? Date.now;
  }

  get size(): number {
    let n = 0;
    for (const list of this.partitions.values()) n += list.length;
    return n;
  }

  /** Items of one partition, in offset order, after those added before. */
  add(items: Item[]): void {
    for (const item of items) {
      const { topic, partition } = item.record;
      const id = `${topic}\u0000${partition}`;
      const list = this.partitions.get(id) ?? [];
      this.partitions.set(id, list);
      list.push(item);
      const mark = item.transaction;
      if (!mark || this.finished.has(mark.group)) continue;
      const tx: Transaction = this.transactions.get(mark.group) ?? {
        seen: new Map(),
        reach: new Map(),
        firstAt: this.now(),
      };
      this.transactions.set(mark.group, tx);
      tx.reach.set(id, BigInt(item.record.offset));
      if (mark.collection) tx.seen.set(mark.collection, (tx.seen.get(mark.collection) ?? 0) + 1);
      if (mark.counts) {
        tx.counts = mark.counts;
        tx.order = ++this.ends;
        tx.endedAt = this.now();
      }
      if (tx.order !== undefined) this.ended(tx);
    }
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
    return this.now() - tx.firstAt >= this.options.timeoutMs;
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
      if ((this.lastEnded.get(collection) ?? 0) <= tx.order) open = true;
    }
    if (open && this.now() - tx.endedAt! < this.options.timeoutMs) return undefined;
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
        const first = list.slice(0, cut).findIndex((item) => held.has(item.transaction?.group ?? ""));
        if (first !== -1) {
          cuts.set(id, first);
          changed = true;
        }
      }
    }
    const items: Item[] = [];
    const taken = new Set<string>();
    for (const [id, list] of this.partitions) {
      const prefix = list.splice(0, cuts.get(id)!);
      for (const item of prefix) if (item.transaction) taken.add(item.transaction.group);
      items.push(...prefix);
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
  }
}
