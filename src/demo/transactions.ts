/**
 * Prepared items of several topics → production's transactions, in commit order, so the demo can
 * let them arrive one at a time. Debezium marks each data event with its source transaction; the
 * tombstone after a delete carries none and belongs with the delete before it.
 */
import type { Item } from "../batch/items.ts";
import { ShadowdbError } from "../errors.ts";

export interface SourceTransaction {
  /** The PostgreSQL xid. */
  group: string;
  /** Each topic's items in offset order, topic after topic. */
  items: Item[];
}

/** `itemsPerTopic`: every topic's items in offset order. */
export function inSourceTransactions(itemsPerTopic: Item[][]): SourceTransaction[] {
  const byGroup = new Map<string, Item[]>();
  for (const items of itemsPerTopic) {
    let group: string | undefined;
    for (const item of items) {
      group = item.transaction?.group ?? group;
      if (group === undefined)
        throw new ShadowdbError(
          "DEMO_STREAM_INVALID",
          `${item.record.topic}@${item.record.offset}: no source transaction`,
        );
      const members = byGroup.get(group) ?? [];
      byGroup.set(group, members);
      members.push(item);
    }
  }
  // The recorder commits one transaction after the other, so xid order is commit order.
  return [...byGroup.entries()]
    .sort(([a], [b]) => (BigInt(a) < BigInt(b) ? -1 : BigInt(a) > BigInt(b) ? 1 : 0))
    .map(([group, items]) => ({ group, items }));
}
