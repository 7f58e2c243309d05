/**
 * Writes one table's coalesced changes: "truncate" (as DELETE: TRUNCATE would commit the open
 * transaction and with it positions not yet earned), then deletes, then multi-row upserts. The
 * statements take the table to write as a parameter: the overlay (overlay-write.ts) sends some
 * rows to the table's production copy instead, with the same statements.
 */
import type mysql from "mysql2/promise";
import type { Value } from "../../decode/values.ts";
import type { QualifiedName, TableWrite, WriteOutcome } from "../dialect.ts";
import { groupByColumns } from "../rows.ts";
import { executeRows, STATEMENT_PARAMETERS } from "./execute.ts";
import { ident, qualified } from "./sql.ts";
import { type MysqlParam, mysqlParam, mysqlPlaceholder } from "./types.ts";

export type Row = Record<string, Value>;

/**
 * `items` in parts of `width` parameters a row, each part's row count a power of two: parts of the
 * largest count that keeps a statement within STATEMENT_PARAMETERS (and, given the largest row's
 * size, within STATEMENT_CHARS), then the remainder's binary digits. A table's statements come in
 * a dozen sizes, so they stay prepared (execute.ts).
 */
export function* chunks<T>(items: T[], width: number, largestRowChars = 0): Generator<T[]> {
  let top = 1;
  while (top * 2 * width <= STATEMENT_PARAMETERS && top * 2 * largestRowChars <= STATEMENT_CHARS) top *= 2;
  let at = 0;
  for (; items.length - at >= top; at += top) yield items.slice(at, at + top);
  for (let size = top >> 1; size >= 1; size >>= 1) {
    if (items.length - at >= size) {
      yield items.slice(at, at + size);
      at += size;
    }
  }
}

/**
 * The text a statement's values may take. The server does not refuse a packet above its
 * max_allowed_packet (16 MiB on MariaDB by default), it resets the connection, which a retry
 * meets again; three UTF-8 bytes a character stay below it.
 */
export const STATEMENT_CHARS = 4 * 1024 * 1024;

/**
 * About how much of a statement `value` takes: its length for text and bytes; a structure as the
 * parameter it is sent as (mysqlParam: JSON text, a geometry's WKB).
 */
function valueChars(value: Value | undefined): number {
  const sent =
    value !== null && typeof value === "object" && !Buffer.isBuffer(value)
      ? mysqlParam(value, undefined)
      : value;
  return typeof sent === "string" || Buffer.isBuffer(sent) ? sent.length : 8;
}

/**
 * The size of the largest of `rows` (see valueChars) in the `columns` a statement sends (all of a
 * row's by default), which bounds how many rows share a statement.
 */
export function largestRowChars(rows: Row[], columns?: readonly string[]): number {
  let largest = 0;
  for (const row of rows) {
    let chars = 0;
    if (columns) for (const name of columns) chars += valueChars(row[name]);
    else for (const name in row) chars += valueChars(row[name]);
    if (chars > largest) largest = chars;
  }
  return largest;
}

function requireColumns(write: TableWrite, names: string[]): void {
  for (const n of names) {
    if (!write.table.columns.has(n)) {
      throw Object.assign(new Error(`Unknown column '${n}' in ${write.table.name.name}`), { errno: 1054 });
    }
  }
}

/** The parameters of `rows`' values of `columns`, row after row. */
export function rowParams(write: TableWrite, rows: Row[], columns: string[]): MysqlParam[] {
  // One flat array filled in place: a statement carries up to 65535 values.
  const types = columns.map((c) => write.types[c]);
  const out = new Array<MysqlParam>(rows.length * columns.length);
  let at = 0;
  for (const row of rows)
    for (let i = 0; i < columns.length; i++) out[at++] = mysqlParam(row[columns[i]!] ?? null, types[i]);
  return out;
}

/** Deletes the rows of `rows`' keys from `table` (the written table or its production copy). */
export async function deleteKeys(
  conn: mysql.Connection,
  write: TableWrite,
  table: QualifiedName,
  rows: Row[],
): Promise<void> {
  const key = write.table.primaryKey;
  const tuple = `(${key.map(() => "?").join(", ")})`;
  for (const part of chunks(rows, key.length, largestRowChars(rows, key))) {
    await executeRows(
      conn,
      `DELETE FROM ${qualified(table)} WHERE (${key.map(ident).join(", ")}) IN (${part.map(() => tuple).join(", ")})`,
      rowParams(write, part, key),
    );
  }
}

export interface RowStatement {
  sql: string;
  params: MysqlParam[];
  /** The rows the statement writes, in its order. */
  rows: Row[];
}

/**
 * Multi-row INSERTs of `rows` into `table`, one per group of rows with the same columns (a row
 * without some columns keeps their stored values) and per chunk. "upsert" updates the columns a
 * row has when its key exists; "insert" is a plain INSERT, which fails on an existing key.
 */
export function* rowStatements(
  write: TableWrite,
  table: QualifiedName,
  rows: Row[],
  mode: "upsert" | "insert",
): Generator<RowStatement> {
  const key = write.table.primaryKey;
  for (const group of groupByColumns(rows).values()) {
    const names = Object.keys(group[0]!);
    requireColumns(write, names);
    const tuple = `(${names.map((n) => mysqlPlaceholder(write.types[n])).join(", ")})`;
    const updates = names.filter((n) => !key.includes(n)).map((n) => `${ident(n)} = VALUES(${ident(n)})`);
    // With only key columns there is nothing to update; re-assigning the first key column is a no-op.
    const onDuplicate =
      mode === "insert"
        ? ""
        : ` ON DUPLICATE KEY UPDATE ${updates.length > 0 ? updates.join(", ") : `${ident(key[0]!)} = ${ident(key[0]!)}`}`;
    for (const part of chunks(group, names.length, largestRowChars(group))) {
      yield {
        sql: `INSERT INTO ${qualified(table)} (${names.map(ident).join(", ")}) VALUES ${part.map(() => tuple).join(", ")}${onDuplicate}`,
        params: rowParams(write, part, names),
        rows: part,
      };
    }
  }
}

/** Inserts `rows` into `table`, or updates the columns they have where their key exists. */
export async function upsertRows(
  conn: mysql.Connection,
  write: TableWrite,
  table: QualifiedName,
  rows: Row[],
): Promise<void> {
  for (const s of rowStatements(write, table, rows, "upsert")) await executeRows(conn, s.sql, s.params);
}

/** The write without the overlay: every change goes to the table. */
export async function writeMysql(conn: mysql.Connection, write: TableWrite): Promise<WriteOutcome> {
  if (write.truncate) await conn.execute(`DELETE FROM ${qualified(write.table.name)}`);
  if (write.deletes.length > 0) await deleteKeys(conn, write, write.table.name, write.deletes);
  await upsertRows(conn, write, write.table.name, write.upserts);
  return { toCopy: 0, lostInserts: 0, hidden: 0 };
}
