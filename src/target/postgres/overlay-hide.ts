/**
 * Hidden by conflict (docs/design.md §4.5): when the table has a
 * unique index besides the key (step 0 reads that with the lock), each statement writing the
 * table runs under a savepoint. On a unique violation (SQLSTATE 23505) the statement's rows are
 * written again one by one, each under its own savepoint; a row that still fails is looked at:
 * the error's `constraint` names the index (for a UNIQUE constraint, its index has its name); if
 * that index is not the primary key and a row of the table with an owned key holds the same
 * values on the index's columns or expressions (and matches its predicate), the production row is
 * hidden: copied aside (merged with its stored version, for TOAST), its older version removed
 * from the table, its key owned with how 'c'. Any other unique violation is production's own
 * problem and is thrown as it came.
 */
import type pg from "pg";
import type { OverlayNames, QualifiedName, TableWrite } from "../dialect.ts";
import {
  deleteRows,
  insertStatement,
  keyArrays,
  type Row,
  type RowSource,
  rowSources,
  upsertRows,
} from "./apply.ts";
import { ident, qualified } from "./sql.ts";

/** What hiding needs of the overlay-aware write in progress. */
export interface Hiding {
  client: pg.ClientBase;
  write: TableWrite;
  names: OverlayNames;
  /** Production rows kept aside so far (hidden by a conflict with an overlay row). */
  hidden: number;
}

export type UniqueViolation = Error & { code: "23505"; constraint?: string };

function isUniqueViolation(error: unknown): error is UniqueViolation {
  return (error as { code?: unknown } | null)?.code === "23505";
}

const savepoint = "shadowdb_write";

/** `work` under a savepoint: a unique violation rolls back to it and is returned, not thrown. */
export async function attempt<T>(
  client: pg.ClientBase,
  work: () => Promise<T>,
): Promise<{ ok: true; value: T } | { ok: false; error: UniqueViolation }> {
  await client.query(`SAVEPOINT ${savepoint}`);
  try {
    const value = await work();
    await client.query(`RELEASE SAVEPOINT ${savepoint}`);
    return { ok: true, value };
  } catch (error) {
    if (!isUniqueViolation(error)) throw error;
    await client.query(`ROLLBACK TO SAVEPOINT ${savepoint}`);
    await client.query(`RELEASE SAVEPOINT ${savepoint}`);
    return { ok: false, error };
  }
}

/** A unique index of the table as the conflict check needs it: its key columns or expressions. */
interface UniqueIndex {
  primary: boolean;
  /** Each key column as pg_get_indexdef renders it: a (quoted) column name or an expression. */
  columns: string[];
  /** A partial index's predicate, over the table's columns. */
  predicate: string | null;
  /** NULLS NOT DISTINCT (PostgreSQL 15): NULLs collide too. */
  nullsNotDistinct: boolean;
}

/** The table's unique index called `name` (a UNIQUE constraint's index has the constraint's name). */
async function uniqueIndex(
  client: pg.ClientBase,
  table: QualifiedName,
  name: string,
): Promise<UniqueIndex | undefined> {
  const { rows } = await client.query<UniqueIndex>(
    `SELECT i.indisprimary AS "primary",
            array(SELECT pg_get_indexdef(i.indexrelid, k, true)
                    FROM generate_series(1, i.indnkeyatts::int) k ORDER BY k) AS columns,
            pg_get_expr(i.indpred, i.indrelid, true) AS predicate,
            coalesce((to_jsonb(i) ->> 'indnullsnotdistinct')::boolean, false) AS "nullsNotDistinct"
       FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
      WHERE i.indrelid = $1::regclass AND c.relname = $2 AND i.indisunique`,
    [qualified(table), name],
  );
  return rows[0];
}

/**
 * Whether a row of the table whose key is owned holds `row`'s values on `index`. The candidate is
 * the row as the failed statement would have written it: its columns, and for the columns it
 * lacks (TOAST) the stored row's. Each index expression is evaluated once over the table and once
 * over the candidate (a scalar subquery: its column names resolve to the candidate first).
 */
async function heldByOverlay(w: Hiding, row: Row, index: UniqueIndex): Promise<boolean> {
  const { client, write, names } = w;
  const table = qualified(write.table.name);
  const key = write.table.primaryKey.map(ident);
  const given = Object.keys(row);
  const sources: RowSource[] = [];
  for await (const source of rowSources(client, write, given, [row])) sources.push(source);
  const source = sources[0]!;
  const candidate = [...write.table.columns.keys()]
    .map((c) => `${given.includes(c) ? "g" : "s"}.${ident(c)}`)
    .join(", ");
  const same = index.nullsNotDistinct ? "IS NOT DISTINCT FROM" : "=";
  const conditions = index.columns.map((e) => `(${e}) ${same} (SELECT (${e}) FROM shadowdb_candidate)`);
  if (index.predicate) conditions.push(`(${index.predicate})`);
  conditions.push(
    `EXISTS (SELECT 1 FROM ${qualified(names.owned)} o WHERE ${key.map((k) => `o.${k} = ${table}.${k}`).join(" AND ")})`,
  );
  const { rows } = await client.query<{ held: boolean }>(
    `WITH shadowdb_candidate AS (
       SELECT ${candidate} FROM (${source.select}) AS g(${given.map(ident).join(", ")})
         LEFT JOIN ${table} s ON ${key.map((k) => `s.${k} = g.${k}`).join(" AND ")})
     SELECT EXISTS (SELECT 1 FROM ${table} WHERE ${conditions.join(" AND ")}) AS held`,
    source.params,
  );
  return rows[0]!.held;
}

/**
 * Keeps production's `row` aside: the copy gets the stored version (when the key had a row) and
 * then the row over it, the table loses the older version, and the key is owned with how 'c'.
 */
async function hide(w: Hiding, row: Row, existed: boolean): Promise<void> {
  const { client, write, names } = w;
  const keyList = write.table.primaryKey.map(ident).join(", ");
  const k = keyArrays(write, [row]);
  if (existed) {
    const columns = [...write.table.columns.keys()];
    const stored = `SELECT ${columns.map(ident).join(", ")} FROM ${qualified(write.table.name)}
                     WHERE (${keyList}) IN (SELECT * FROM ${k.unnest})`;
    await client.query(insertStatement(write, names.copy, columns, stored, "update"), k.params);
  }
  await upsertRows(client, write, names.copy, [row]);
  if (existed) await deleteRows(client, write, write.table.name, [row]);
  await client.query(
    `INSERT INTO ${qualified(names.owned)} (${keyList}, how) SELECT *, 'c' FROM ${k.unnest}
     ON CONFLICT (${keyList}) DO NOTHING`,
    k.params,
  );
  w.hidden++;
}

/** A row that failed alone: hidden when an overlay row holds its value, thrown as it came otherwise. */
export async function hideOrThrow(w: Hiding, row: Row, error: UniqueViolation, existed: boolean) {
  const index = error.constraint
    ? await uniqueIndex(w.client, w.write.table.name, error.constraint)
    : undefined;
  if (!index || index.primary || !(await heldByOverlay(w, row, index))) throw error;
  await hide(w, row, existed);
}
