/**
 * What the core needs from a target database. Each dialect (`postgres/`, `mysql/`) implements it
 * in a parallel set of small files; the core never imports a driver, only these types.
 */
import type { Column, ColumnType } from "../decode/index.ts";
import type { Value } from "../decode/values.ts";
import type { ErrorCode } from "../errors.ts";

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
}

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
}

export interface TargetTransaction {
  /** Locks the partition's position row for this transaction and returns its next offset, if any. */
  lockPosition(groupId: string, topic: string, partition: number): Promise<string | undefined>;
  write(write: TableWrite): Promise<void>;
  savePositions(groupId: string, positions: Position[]): Promise<void>;
  saveDeadLetters(groupId: string, letters: DeadLetter[]): Promise<void>;
}

export interface Target {
  readonly dialect: "postgres" | "mysql";
  /** Creates shadowdb's own tables (positions, dead letters) if they are missing. */
  prepare(): Promise<void>;
  describe(name: QualifiedName): Promise<TableShape | undefined>;
  createTable(name: QualifiedName, columns: Column[], primaryKey: string[]): Promise<void>;
  addColumns(name: QualifiedName, columns: Column[]): Promise<void>;
  readPositions(groupId: string): Promise<Position[]>;
  /** Runs `work` in one database transaction on the apply session (which the overlay triggers skip). */
  transaction<T>(work: (tx: TargetTransaction) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

export interface ClassifiedError {
  code: ErrorCode;
  retriable: boolean;
}
