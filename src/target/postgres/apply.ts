/**
 * Writes one table's coalesced changes: truncate, then deletes, then multi-row upserts through
 * unnest (one array parameter per column, so the statement is the same for any row count), or
 * for large groups through COPY into a staging table (copy.ts). The pieces (delete keys, upsert
 * rows into a named table, the row sources) take the table to write as a parameter, so that the
 * overlay (overlay-write.ts) writes its production copy with the same statements.
 */
import type pg from "pg";
import type { Value } from "../../decode/values.ts";
import type { QualifiedName, TableWrite, WriteOutcome } from "../dialect.ts";
import { groupByColumns } from "../rows.ts";
import type { StagingTables } from "./copy.ts";
import { castType, ident, qualified } from "./sql.ts";
import { postgresParam } from "./types.ts";

export type Row = Record<string, Value>;

function column(write: TableWrite, name: string) {
  const column = write.table.columns.get(name);
  if (!column)
    throw Object.assign(new Error(`column ${name} is not in ${write.table.name.name}`), { code: "42703" });
  return column;
}

/** Each column's value → parameter conversion, its types looked up once, not once per value. */
function converters(write: TableWrite, names: string[]): ((value: Value | undefined) => unknown)[] {
  return names.map((n) => {
    const type = write.types[n];
    const sqlType = write.table.columns.get(n)?.sqlType;
    return (value) => postgresParam(value ?? null, type, sqlType);
  });
}

function params(write: TableWrite, names: string[], rows: Row[]): unknown[][] {
  const convert = converters(write, names);
  return names.map((n, i) => rows.map((r) => convert[i]!(r[n])));
}

function* paramRows(write: TableWrite, names: string[], rows: Row[]): Generator<unknown[]> {
  const convert = converters(write, names);
  for (const row of rows) yield names.map((n, i) => convert[i]!(row[n]));
}

/** When upsert groups go through COPY; without it, always unnest. */
export interface CopyPath {
  /** Smallest group (rows of one column set) that goes through COPY. */
  threshold: number;
  /** The session's staging tables (the caller settles them when the transaction ends). */
  staging: StagingTables;
}

/**
 * The key columns of `rows` as `unnest($first::type[], …)` with its parameters: a relation of
 * keys in the rows' order, which `WITH ORDINALITY` numbers from 1.
 */
export function keyArrays(write: TableWrite, rows: Row[], first = 1): { unnest: string; params: unknown[] } {
  const key = write.table.primaryKey;
  const arrays = key.map((k, i) => `$${first + i}::${castType(column(write, k).sqlType)}[]`);
  return { unnest: `unnest(${arrays.join(", ")})`, params: params(write, key, rows) };
}

/** Deletes the rows of `from` (the table or its production copy) with the given keys. */
export async function deleteRows(
  client: pg.ClientBase,
  write: TableWrite,
  from: QualifiedName,
  keys: Row[],
): Promise<void> {
  if (keys.length === 0) return;
  const list = write.table.primaryKey.map(ident).join(", ");
  const { unnest, params } = keyArrays(write, keys);
  await client.query(`DELETE FROM ${qualified(from)} WHERE (${list}) IN (SELECT * FROM ${unnest})`, params);
}

/** Rows of one column set as a statement's source: a query yielding the columns in order. */
export interface RowSource {
  /** `SELECT …` or `VALUES …`, numbering its parameters from $1. */
  select: string;
  params: unknown[];
  /** The rows it yields (a chunk of the group when the group takes several statements). */
  rows: Row[];
}

/**
 * `rows` (all with the columns `names`) as the sources of insert statements: one staged table
 * for large groups (COPY), otherwise one unnest, or chunks of VALUES when a column is an array
 * (unnest flattens multi-dimensional arrays). `reserved`: parameters the statement adds after
 * the source's.
 */
export async function* rowSources(
  client: pg.ClientBase,
  write: TableWrite,
  names: string[],
  rows: Row[],
  copy?: CopyPath,
  reserved = 0,
): AsyncGenerator<RowSource> {
  const columns = names.map((n) => column(write, n));
  const list = names.map(ident).join(", ");
  if (copy && rows.length >= copy.threshold) {
    const staged = await copy.staging.stage(client, write.table, names, paramRows(write, names, rows));
    yield { select: `SELECT ${list} FROM ${staged}`, params: [], rows };
    return;
  }
  if (columns.some((c) => c.sqlType.endsWith("]"))) {
    // The protocol allows 65535 parameters per statement.
    const perStatement = Math.max(1, Math.floor((65535 - reserved) / columns.length));
    const convert = converters(write, names);
    for (let start = 0; start < rows.length; start += perStatement) {
      const chunk = rows.slice(start, start + perStatement);
      const values = chunk.map(
        (_, r) =>
          `(${columns.map((c, i) => `$${r * columns.length + i + 1}::${castType(c.sqlType)}`).join(", ")})`,
      );
      const flat = chunk.flatMap((row) => names.map((n, i) => convert[i]!(row[n])));
      yield { select: `VALUES ${values.join(", ")}`, params: flat, rows: chunk };
    }
    return;
  }
  const unnest = columns.map((c, i) => `$${i + 1}::${castType(c.sqlType)}[]`).join(", ");
  yield { select: `SELECT * FROM unnest(${unnest})`, params: params(write, names, rows), rows };
}

/**
 * `INSERT INTO into (names) <select>` that updates the present non-key columns of a key that is
 * already there ("update": an upsert; a column the row lacks keeps its stored value) or leaves
 * that row alone ("nothing").
 */
export function insertStatement(
  write: TableWrite,
  into: QualifiedName,
  names: string[],
  select: string,
  conflict: "update" | "nothing",
): string {
  const key = write.table.primaryKey;
  const updates = names.filter((n) => !key.includes(n)).map((n) => `${ident(n)} = EXCLUDED.${ident(n)}`);
  const action =
    conflict === "update" && updates.length > 0 ? `DO UPDATE SET ${updates.join(", ")}` : "DO NOTHING";
  // Production's ids go in as they are, also into GENERATED ALWAYS identity columns.
  return `INSERT INTO ${qualified(into)} (${names.map(ident).join(", ")}) OVERRIDING SYSTEM VALUE ${select} ON CONFLICT (${key.map(ident).join(", ")}) ${action}`;
}

/** Upserts `rows` into `into`: the table itself, or its production copy (same columns and key). */
export async function upsertRows(
  client: pg.ClientBase,
  write: TableWrite,
  into: QualifiedName,
  rows: Row[],
  copy?: CopyPath,
): Promise<void> {
  for (const group of groupByColumns(rows).values()) {
    const names = Object.keys(group[0]!);
    for await (const source of rowSources(client, write, names, group, copy))
      await client.query(insertStatement(write, into, names, source.select, "update"), source.params);
  }
}

/** The write without an overlay: every change goes to the table. */
export async function writePostgres(
  client: pg.ClientBase,
  write: TableWrite,
  copy?: CopyPath,
): Promise<WriteOutcome> {
  if (write.truncate) await client.query(`TRUNCATE TABLE ${qualified(write.table.name)}`);
  await deleteRows(client, write, write.table.name, write.deletes);
  await upsertRows(client, write, write.table.name, write.upserts, copy);
  return { toCopy: 0, lostInserts: 0, hidden: 0 };
}
