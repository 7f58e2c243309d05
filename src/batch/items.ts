/**
 * One Kafka batch (one partition of one topic) → decoded, mapped changes with their offsets.
 * Records that cannot be decoded or mapped are kept as failures with their error, in order.
 */
import type {
  Column,
  KafkaRecord,
  RecordDecoder,
  RowChange,
  SnapshotMarker,
  TransactionBoundary,
  Truncate,
} from "../decode/index.ts";
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
  /** The source transaction the record belongs to, when the connector sends transaction metadata. */
  transaction?: TransactionMark;
  /** Row changes and truncates: what happened at the source and when, for metrics and readiness. */
  origin?: Origin;
}

export interface Origin {
  op: "c" | "u" | "d" | "r" | "t";
  /** The source database's commit time (source.ts_ms). */
  sourceMs?: number;
  snapshot: SnapshotMarker;
}

function origin(event: RowChange | Truncate): Origin {
  return { op: event.op, sourceMs: event.source?.tsMs, snapshot: event.source?.snapshot ?? false };
}

export interface TransactionMark {
  group: string;
  /** The data collection (`schema.table`, `database.table`) a data event counts toward. */
  collection?: string;
  /** END only: the data events the transaction produced, per data collection. */
  counts?: Map<string, number>;
}

function dataEvent(event: RowChange | Truncate): TransactionMark | undefined {
  if (!event.transaction) return undefined;
  const { schema, database, table } = event.table;
  return { group: event.transaction.group, collection: `${schema ?? database}.${table}` };
}

/**
 * BEGIN carries nothing to wait for, and Debezium's MariaDB connector sends a BEGIN without an END
 * for a DDL statement: only END joins its transaction.
 */
function boundary(event: TransactionBoundary): TransactionMark | undefined {
  if (event.op === "begin") return undefined;
  const counts = new Map((event.dataCollections ?? []).map((c) => [c.dataCollection, c.eventCount]));
  return { group: event.group, counts };
}

/** `mapper` is absent for a topic without rows: Debezium's transaction metadata topic. */
export function prepareItems(records: KafkaRecord[], decoder: RecordDecoder, mapper?: Mapper): Item[] {
  const items: Item[] = [];
  for (const record of records) {
    try {
      const event = decoder.decode(record, mapper?.mapping.envelope);
      switch (event.op) {
        case "c":
        case "u":
        case "r":
        case "d": {
          if (!mapper) {
            items.push({ record, transaction: dataEvent(event) });
            break;
          }
          const change = mapper.map(event);
          const key = mapper.targetKey(event);
          const columns = mapper.targetColumns(event.columns);
          items.push({ record, change, columns, key, transaction: dataEvent(event), origin: origin(event) });
          break;
        }
        case "t":
          if (!mapper) {
            items.push({ record, transaction: dataEvent(event) });
            break;
          }
          items.push({
            record,
            change: mapper.map(event),
            transaction: dataEvent(event),
            origin: origin(event),
          });
          break;
        case "begin":
        case "end":
          items.push({ record, transaction: boundary(event) });
          break;
        // A tombstone follows the delete it completes; control records carry no row.
        case "tombstone":
        case "heartbeat":
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
