/**
 * What a Kafka record means, after decoding. One discriminated union on `op`: data changes use
 * Debezium's letters, control records have their own names; consumers switch exhaustively.
 */
import type { Column } from "./columns.ts";
import type { Row } from "./values.ts";

/** Where the record is in Kafka: every event and every decode error carries it. */
export interface Coordinates {
  topic: string;
  partition: number;
  offset: string;
}

export interface TableRef {
  /** PostgreSQL database / MySQL database (the `db` of the source block, when known). */
  database: string | null;
  /** PostgreSQL schema; for MySQL/MariaDB the database again. */
  schema: string | null;
  table: string;
}

export type SnapshotMarker =
  | "first"
  | "first_in_data_collection"
  | "true"
  | "last_in_data_collection"
  | "last"
  | "incremental"
  | false;

export interface SourceInfo {
  connector: string;
  name: string;
  tsMs: number;
  snapshot: SnapshotMarker;
  /** PostgreSQL */
  lsn?: bigint;
  txId?: bigint;
  /** MySQL / MariaDB */
  gtid?: string | null;
  file?: string;
  pos?: bigint;
  row?: number;
  serverId?: bigint;
}

export interface TransactionRef {
  /** As Debezium sent it. */
  id: string;
  /** What groups the events of one source transaction: the PostgreSQL xid (before ':'), else the id. */
  group: string;
  totalOrder: number;
  dataCollectionOrder: number;
}

interface Base {
  at: Coordinates;
}

export interface RowChange extends Base {
  op: "c" | "u" | "d" | "r";
  table: TableRef;
  /** The record key's fields (null only for keyless tables). */
  key: Row | null;
  before: Row | null;
  after: Row | null;
  /** The row's columns as the event schema declares them (empty when the record has no schema). */
  columns: Column[];
  keyColumns: string[];
  source: SourceInfo | null;
  transaction: TransactionRef | null;
  /** Set on the delete and create of a primary-key change (from the __debezium.oldkey/newkey headers). */
  keyChange?: { oldKey?: Row; newKey?: Row };
  /** The record was flattened by ExtractNewRecordState; `meta` holds its `__`-prefixed fields. */
  flattened?: { meta: Row };
}

export interface Truncate extends Base {
  op: "t";
  table: TableRef;
  source: SourceInfo | null;
  transaction: TransactionRef | null;
}

export interface LogicalMessage extends Base {
  op: "m";
  prefix: string;
  content: Buffer | null;
  source: SourceInfo | null;
}

export interface Tombstone extends Base {
  op: "tombstone";
  key: Row | null;
}

export interface Heartbeat extends Base {
  op: "heartbeat";
  tsMs: number;
}

export interface TransactionBoundary extends Base {
  op: "begin" | "end";
  id: string;
  group: string;
  tsMs: number;
  /** END only. */
  eventCount: number | null;
  dataCollections: { dataCollection: string; eventCount: number }[] | null;
}

export interface SchemaChange extends Base {
  op: "schema-change";
  database: string;
  ddl: string;
  tableChanges: unknown[];
}

export type ChangeEvent =
  | RowChange
  | Truncate
  | LogicalMessage
  | Tombstone
  | Heartbeat
  | TransactionBoundary
  | SchemaChange;
