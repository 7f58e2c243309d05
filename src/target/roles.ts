/**
 * The Target interface, cut into the roles its callers play (see the header of dialect.ts for
 * why each exists). Each caller names the role it uses; a dialect implements them all (`Target`).
 */
import type { Column } from "../decode/index.ts";
import type { Value } from "../decode/values.ts";
import type {
  ColumnChange,
  DeadLetter,
  IdHeadroom,
  KnownColumn,
  OverlayNames,
  OverlaySize,
  Position,
  PrivilegeCheck,
  QualifiedName,
  StoredDeadLetter,
  TableDiff,
  TableShape,
  TargetTransaction,
} from "./dialect.ts";

/** A session someone opened: they prepare it (or not: status creates nothing) and close it. */
export interface TargetSession {
  /** Creates shadowdb's own tables (positions, dead letters) if they are missing. */
  prepare(): Promise<void>;
  close(): Promise<void>;
}

export interface PositionReader {
  readPositions(groupId: string): Promise<Position[]>;
}

export interface Transactions {
  /** Runs `work` in one database transaction on the apply session (which the overlay triggers skip). */
  transaction<T>(work: (tx: TargetTransaction) => Promise<T>): Promise<T>;
  /**
   * Why the store cannot take `letter` in one statement (its size), or undefined if it can. Asked
   * before sending: MariaDB answers a statement past max_allowed_packet by closing the connection,
   * which looks like an outage and would be retried forever.
   */
  letterTooLarge(groupId: string, letter: DeadLetter): string | undefined;
}

export interface TableLookup {
  describe(name: QualifiedName): Promise<TableShape | undefined>;
}

/** Production's columns as shadowdb recorded them, and the dialect their types are written in. */
export interface SchemaRecords extends TableLookup {
  readonly dialect: "postgres" | "mysql";
  /** Production's columns as last recorded for a table (shadowdb_columns); undefined: never recorded. */
  knownColumns(name: QualifiedName): Promise<Map<string, string> | undefined>;
}

/** What schema following (tables.ts) changes: tables, their columns, production's record of them. */
export interface SchemaUpkeep extends SchemaRecords {
  createTable(name: QualifiedName, columns: Column[], primaryKey: string[]): Promise<void>;
  addColumns(name: QualifiedName, columns: Column[]): Promise<void>;
  /** Records (adds or updates) production's columns of a table; never removes one. */
  recordColumns(name: QualifiedName, columns: KnownColumn[]): Promise<void>;
  /**
   * Makes schema following's changes to a table, and the same adds and widenings to `copy` (its
   * overlay's production copy) when that exists. Each change is one statement, in order.
   */
  alterColumns(name: QualifiedName, changes: ColumnChange[], copy?: QualifiedName): Promise<void>;
}

/** What apply keeps up on an overlaid table before writing it (tables.ts). */
export interface OverlayUpkeep {
  /**
   * Creates the overlay of a table if it is missing (ownership and copy tables, triggers, the
   * registry row), and adds to the copy any column the table has gained. Idempotent.
   */
  installOverlay(names: OverlayNames): Promise<void>;
  /**
   * Keeps the shadow's own ids clear of production's: every sequence / identity (PostgreSQL) or
   * AUTO_INCREMENT (MySQL) column of the table whose next value is within headroom / 2 of
   * production's highest id moves to production's highest id + headroom. Idempotent.
   */
  ensureIdHeadroom(names: OverlayNames, headroom: bigint): Promise<IdHeadroom[]>;
}

/** The outbox the topic dead-letter store is fed from, as the relay drains it. */
export interface DeadLetterOutbox {
  /** The oldest stored dead letters of a group (the outbox of a topic store), at most `limit`. */
  storedDeadLetters(groupId: string, limit: number): Promise<StoredDeadLetter[]>;
  /** Removes stored dead letters by id, once the topic store has acknowledged them. */
  removeDeadLetters(ids: string[]): Promise<void>;
}

/** The registry of installed overlays; a listed table may since have been dropped, hence describe. */
export interface OverlayRegistry extends TableLookup {
  /** The tables whose overlay is installed, from the registry (shadowdb_overlays). */
  listOverlays(): Promise<QualifiedName[]>;
}

/** The operator's overlay work: the overlay, diff and reset commands and the HTTP admin endpoints. */
export interface OverlayAdmin extends OverlayRegistry, OverlayUpkeep {
  /** Drops the overlay's triggers and tables; the table and every row in it stay as they are. */
  uninstallOverlay(names: OverlayNames): Promise<void>;
  /**
   * Puts production's version back into owned rows and forgets their ownership: every owned key,
   * or those given (key column → value). Online: serialised with apply per table. Returns how
   * many keys were reset.
   */
  resetOverlay(names: OverlayNames, keys?: Record<string, Value>[]): Promise<number>;
  /** Owned rows against production's versions, leaving out `ignore` columns. */
  diffOverlay(names: OverlayNames, ignore: string[]): Promise<TableDiff>;
}

/** Read-only figures for `shadowdb check`, `shadowdb status` and /metrics. */
export interface Inspection {
  /**
   * Tries what apply and the overlay need from the target user (marking the apply session,
   * creating tables, functions and triggers) on objects of its own, and undoes it. Throws when
   * the database cannot be reached; a refusal is a result, not an error.
   */
  checkPrivileges(): Promise<PrivilegeCheck[]>;
  /** The number of keys the table's overlay holds, and how many of them are hidden production rows. */
  overlaySizes(names: OverlayNames): Promise<OverlaySize>;
  /** How many dead letters of the group the dead-letter table (or outbox) holds; 0 when it does not exist. */
  countDeadLetters(groupId: string): Promise<number>;
}

/** What the materializer (and the demo's replay) runs on: one apply session and its upkeep. */
export interface ApplyTarget
  extends TargetSession,
    PositionReader,
    Transactions,
    SchemaUpkeep,
    OverlayUpkeep,
    DeadLetterOutbox {}

/** Every role: what a dialect implements (and what load.ts constructs). */
export type Target = ApplyTarget & OverlayAdmin & Inspection;
