/**
 * One Kafka batch (one partition of one topic) → decoded, mapped changes with their offsets.
 * Records that cannot be decoded or mapped are kept as failures with their error, in order.
 */
import type { Column, KafkaRecord, RecordDecoder } from "../decode/index.ts";
import { ShadowdbError } from "../errors.ts";
import type { MappedChange, Mapper } from "../map/mapper.ts";

export interface Item {
  record: KafkaRecord;
  /** Present for row changes and truncates; control records and tombstones only move the position. */
  change?: MappedChange;
  /** The event's columns (target names) and key, to resolve the table's shape. */
  columns?: Column[];
  key?: string[];
  error?: ShadowdbError;
}

export function prepareItems(records: KafkaRecord[], decoder: RecordDecoder, mapper: Mapper): Item[] {
  const items: Item[] = [];
  for (const record of records) {
    try {
      const event = decoder.decode(record);
      switch (event.op) {
        case "c":
        case "u":
        case "r":
        case "d": {
          const change = mapper.map(event);
          const key = mapper.keyColumns(event).map((c) => mapper.targetName(c) ?? c);
          items.push({ record, change, columns: mapper.targetColumns(event.columns), key });
          break;
        }
        case "t":
          items.push({ record, change: mapper.map(event) });
          break;
        // A tombstone follows the delete it completes; control records carry no row.
        case "tombstone":
        case "heartbeat":
        case "begin":
        case "end":
        case "schema-change":
        case "m":
          items.push({ record });
          break;
      }
    } catch (error) {
      if (!(error instanceof ShadowdbError)) throw error;
      items.push({ record, error });
    }
  }
  return items;
}
