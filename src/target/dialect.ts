/**
 * What the core needs from a target database. Each dialect (`postgres/`, `mysql/`) implements it
 * in a parallel set of small files; the core never imports a driver, only these types.
 *
 * `Target` is cut into roles (roles.ts) so that each caller names only what it uses and a unit
 * test's fake implements only that; a dialect implements them all. Why each exists:
 * - ApplyTarget: the one session apply owns (materializer, demo replay). Its parts are the slices
 *   its helpers take: Transactions (apply, the streamed transaction, resync's sweep and direct
 *   copy), SchemaUpkeep over SchemaRecords over TableLookup (tables.ts), OverlayUpkeep (install
 *   and id headroom before a write), DeadLetterOutbox (the topic store's relay), PositionReader
 *   and TargetSession (prepare, close).
 * - OverlayAdmin: the operator's overlay install/uninstall, diff and reset, always on a session of
 *   its own (the overlay triggers skip the apply session). Its OverlayRegistry (installed overlays,
 *   looked up) is all that resync, status and /metrics need of it.
 * - Inspection: the read-only figures of check, status and /metrics, which must create nothing.
 * - TableLookup alone: check and seed only look tables up.
 */
import type { Column, ColumnType } from "../decode/index.ts";
import type { Value } from "../decode/values.ts";
import type { ErrorCode } from "../errors.ts";

export type {
  ApplyTarget,
  DeadLetterOutbox,
  Inspection,
  OverlayAdmin,
  OverlayRegistry,
  OverlayUpkeep,
  PositionReader,
  SchemaRecords,
  SchemaUpkeep,
  TableLookup,
  Target,
  TargetSession,
  Transactions,
} from "./roles.ts";

export interface QualifiedName {
  /** PostgreSQL schema, or MySQL database. */
  schema: string;
  name: string;
}

/** A target table as the database describes it: the materializer writes what the target has. */
export interface TableShape {
  name: QualifiedName;
  columns: Map<string, TargetColumn>;
  primaryKey: string[];
}

export interface TargetColumn {
  name: string;
  /** The database's own type text (format_type / COLUMN_TYPE), used to cast parameters. */
  sqlType: string;
  nullable: boolean;
  /** Whether the column has a default (absent: not known, taken as having one). */
  hasDefault?: boolean;
}

/** A column as production had it when shadowdb last saw it: its name and type, as text. */
export interface KnownColumn {
  name: string;
  type: string;
}

/** One change schema following makes to a shadow table (and to its overlay copy). */
export type ColumnChange =
  /** A column production added: its type, its default (filling existing rows), NOT NULL with a default. */
  | { op: "add"; column: Column; sqlType: string }
  /** A column production widened: the shadow's type becomes `sqlType`, nothing else changes. */
  | { op: "widen"; column: string; sqlType: string }
  /** A column production no longer sends: NOT NULL is dropped so that rows can still be written. */
  | { op: "relax"; column: string };

export interface Position {
  topic: string;
  partition: number;
  /** The next offset to consume (last applied + 1), as Kafka counts them. */
  offset: string;
}

export interface DeadLetter {
  topic: string;
  partition: number;
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  code: ErrorCode;
  message: string;
}

/** A dead letter as stored in the target, with the row id that removes it once sent on. */
export interface StoredDeadLetter extends DeadLetter {
  id: string;
}

/**
 * A table's copy-on-write overlay (docs/design.md §4), named by src/overlay/names.ts. `owned` holds
 * the keys the shadow has written (key columns + owned_at + how); `copy` has the table's columns
 * and holds production's current version of each owned row that production has.
 */
export interface OverlayNames {
  table: QualifiedName;
  owned: QualifiedName;
  copy: QualifiedName;
  /** Trigger (or trigger function) names, per event: "ins", "upd", "del", "trunc", "fn". */
  trigger: (event: "ins" | "upd" | "del" | "trunc" | "fn") => string;
}

/** How an overlay-aware write went: the conflict paths it took, for tests, metrics and notes. */
export interface WriteOutcome {
  /** Upserts and deletes that went to the production copy because their key is owned. */
  toCopy: number;
  /** Inserts of keys absent when locked that a shadow insert took first (re-routed to the copy). */
  lostInserts: number;
  /**
   * Production rows kept aside in the copy because they collide with an overlay row on another
   * unique key (their key is then owned with how 'c', and reset brings them back).
   */
  hidden: number;
}

/** How far the shadow's own ids are from production's, per sequence / AUTO_INCREMENT column. */
export interface IdHeadroom {
  column: string;
  /** The highest id production has (in the table outside the overlay, or in the copy). */
  productionMax: string | null;
  /** The next id the shadow's own inserts will get. */
  next: string;
  /** next - productionMax - 1: how many more ids production can take before they collide. */
  remaining: string;
  /** Whether this call moved the sequence / AUTO_INCREMENT up. */
  moved: boolean;
}

/** One overlay row against production: values as the database renders them as text. */
export interface RowDiff {
  /** hidden: a production row kept aside by a unique conflict with an overlay row. */
  kind: "inserted" | "updated" | "deleted" | "hidden";
  key: Record<string, string | null>;
  /** inserted: the shadow's row; deleted and hidden: production's row; updated: both. */
  shadow?: Record<string, string | null>;
  production?: Record<string, string | null>;
  /** updated: the columns that differ (noise columns left out), production → shadow. */
  changed?: { column: string; production: string | null; shadow: string | null }[];
}

export interface TableDiff {
  table: QualifiedName;
  /** Keys the shadow owns (rows whose versions agree are owned but not listed). */
  owned: number;
  rows: RowDiff[];
}

/**
 * One thing shadowdb needs the target user to be allowed to do, as `shadowdb check` tried it (and
 * undid it): the statement's kind, whether the database accepted it, and what to do if not.
 */
export interface PrivilegeCheck {
  /** What was tried, e.g. "SET LOCAL session_replication_role = replica" or "CREATE TRIGGER". */
  privilege: string;
  ok: boolean;
  /** The database's refusal: its SQLSTATE / errno and message. */
  error?: string;
  /** What to change (a GRANT, a server variable) so that it is allowed. */
  fix?: string;
}

/** How many keys a table's overlay holds. */
export interface OverlaySize {
  /** Every key in the ownership table, the hidden ones included (as a diff's `owned` counts them). */
  owned: number;
  /** Production rows kept aside by a unique conflict with an overlay row (owned with how 'c'). */
  hidden: number;
}

/** Row changes for one table, already coalesced: the apply step's unit of work. */
export interface TableWrite {
  table: TableShape;
  /** The event's types of the written columns (by target name); absent for schemaless topics. */
  types: Record<string, ColumnType>;
  /** Full rows to insert or update; a column absent from a row keeps its stored value. */
  upserts: Record<string, Value>[];
  /** Key column values of rows to delete. */
  deletes: Record<string, Value>[];
  truncate: boolean;
  /** Set when the overlay is on: changes to owned keys go to the production copy instead. */
  overlay?: OverlayNames;
}

export interface TargetTransaction {
  /** Locks the partition's position row for this transaction and returns its next offset, if any. */
  lockPosition(groupId: string, topic: string, partition: number): Promise<string | undefined>;
  write(write: TableWrite): Promise<WriteOutcome>;
  savePositions(groupId: string, positions: Position[]): Promise<void>;
  saveDeadLetters(groupId: string, letters: DeadLetter[]): Promise<void>;
  /** Runs `work` under a savepoint: if it fails, only its statements are undone (and it rethrows). */
  savepoint<T>(work: () => Promise<T>): Promise<T>;
}

/**
 * Production, read by `shadowdb seed` in one read-only snapshot (never written). Rows travel in
 * the dialect's bulk text format straight into the target's bulk load, never as row objects.
 */
export interface SeedSource {
  /** Opens the snapshot: every later read sees the source as of this instant. */
  begin(): Promise<void>;
  /**
   * Why changes committed after the snapshot might never reach Kafka (no replication slot, no
   * row-based binlog), or undefined when a connector's change stream is kept for them.
   */
  captureProblem(): Promise<string | undefined>;
  describe(name: QualifiedName): Promise<TableShape | undefined>;
  /** The table's rows in the snapshot, these columns in this order, in the bulk text format. */
  rows(name: QualifiedName, columns: string[]): NodeJS.ReadableStream;
  close(): Promise<void>;
}

/** One table's seed: the rows, and the positions the stream goes on from, in one transaction. */
export interface SeedLoad {
  table: QualifiedName;
  /** Target column names, in the order of the rows' fields. */
  columns: string[];
  rows: NodeJS.ReadableStream;
  groupId: string;
  positions: Position[];
}

/** What a target needs for `shadowdb seed`, besides being a Target. */
export interface SeedTarget {
  /** A table with the source's columns, types and primary key. */
  createTableLike(name: QualifiedName, shape: TableShape): Promise<void>;
  /** Loads an empty table (SEED_NOT_EMPTY otherwise) and stores the positions; returns the row count. */
  seed(load: SeedLoad): Promise<number>;
}

export interface ClassifiedError {
  code: ErrorCode;
  retriable: boolean;
}

/**
 * Keys of one table, for `shadowdb resync`'s sweep of rows production no longer has: read from
 * the shadow (its keys, page by page) and from production (which of them it still has). Key
 * values travel as the database's text and are cast back to the column's type.
 */
export interface KeyReader {
  describe(name: QualifiedName): Promise<TableShape | undefined>;
  /** Up to `limit` keys of the table in primary-key order, after `after` when given. */
  keys(table: TableShape, after: string[] | undefined, limit: number): Promise<string[][]>;
  /** The indexes in `keys` (primary-key columns in order) of the keys the table has. */
  present(table: TableShape, keys: string[][]): Promise<Set<number>>;
  /**
   * Up to `limit` rows in primary-key order after `after`: each row's key as text and the
   * `columns`' values as the target's write takes them (`resync --direct`).
   */
  rows(
    table: TableShape,
    columns: string[],
    after: string[] | undefined,
    limit: number,
  ): Promise<{ key: string[]; values: Value[] }[]>;
  close(): Promise<void>;
}
