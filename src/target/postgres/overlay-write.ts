/**
 * The overlay-aware write (docs/design.md §4.3): changes to keys
 * the shadow owns go to the production copy, the others to the table, and a shadow write that
 * commits while apply waits for a row lock is never overwritten. Runs inside the apply
 * transaction (READ COMMITTED: each statement takes a new snapshot, a locking read waits for and
 * then sees the latest committed version of a row). Keys are matched by their position in the
 * write (`WITH ORDINALITY`), so no value ever has to be compared in JS.
 *
 * 0. Lock the table's registry row shared (reset locks it exclusively: they serialise).
 * 1. Truncate: lock every row, then (new statement) delete the rows not owned; empty the copy.
 * 2. Lock the existing rows of the write's keys (FOR UPDATE), remember which exist.
 * 3. In a later statement, read which keys are owned: an ownership committed while step 2 waited
 *    for a row lock is invisible to step 2's snapshot but visible here.
 * 4. Deletes: owned → from the copy; existing → from the table; absent → nothing.
 * 5. Upserts: owned → the copy; existing (locked, so it stays ours) → the table; absent → insert
 *    with ON CONFLICT DO NOTHING (never DO UPDATE: that would overwrite a shadow insert).
 *    Inserts that lost to a shadow insert go to the copy. The inserted keys' ownership is read
 *    once more: a shadow transaction that inserted and deleted the key (committed while our
 *    insert waited for it) owns a key whose row is absent; our row then moves to the copy.
 *
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
import { ShadowdbError } from "../../errors.ts";
import type { OverlayNames, QualifiedName, TableWrite, WriteOutcome } from "../dialect.ts";
import { groupByColumns } from "../rows.ts";
import {
  type CopyPath,
  deleteRows,
  insertStatement,
  keyArrays,
  type Row,
  type RowSource,
  rowSources,
  upsertRows,
} from "./apply.ts";
import { lockOverlayForWrite } from "./bookkeeping.ts";
import { ident, qualified } from "./sql.ts";

/** `unnest(…) WITH ORDINALITY AS u(k0, k1, …, ord)` and `<alias>.key = u.kN AND …`. */
function keyRelation(write: TableWrite, rows: Row[], first = 1) {
  const key = write.table.primaryKey;
  const { unnest, params } = keyArrays(write, rows, first);
  const names = key.map((_, i) => `k${i}`);
  return {
    from: `${unnest} WITH ORDINALITY AS u(${names.join(", ")}, ord)`,
    params,
    matches: (alias: string) => key.map((k, i) => `${alias}.${ident(k)} = u.${names[i]}`).join(" AND "),
  };
}

/** Positions (0-based) in `rows` of the keys that the query's join keeps. */
async function positions(client: pg.ClientBase, sql: string, params: unknown[]): Promise<Set<number>> {
  const { rows } = await client.query<{ ord: string }>(sql, params);
  return new Set(rows.map((r) => Number(r.ord) - 1));
}

/** Step 2: locks the rows of `rows`' keys that exist, and returns their positions. */
async function lockExisting(client: pg.ClientBase, write: TableWrite, rows: Row[]): Promise<Set<number>> {
  if (rows.length === 0) return new Set();
  const k = keyRelation(write, rows);
  const order = write.table.primaryKey.map((c) => `t.${ident(c)}`).join(", ");
  // In key order, so that concurrent writers lock in the same order.
  return positions(
    client,
    `SELECT u.ord FROM ${k.from} JOIN ${qualified(write.table.name)} t ON ${k.matches("t")}
      ORDER BY ${order} FOR UPDATE OF t`,
    k.params,
  );
}

/** Steps 3 and 5: the positions of `rows` whose keys are owned, as a new statement sees them. */
export async function ownedPositions(
  client: pg.ClientBase,
  write: TableWrite,
  names: OverlayNames,
  rows: Row[],
): Promise<Set<number>> {
  if (rows.length === 0) return new Set();
  const k = keyRelation(write, rows);
  return positions(
    client,
    `SELECT u.ord FROM ${k.from} WHERE EXISTS (SELECT 1 FROM ${qualified(names.owned)} o WHERE ${k.matches("o")})`,
    k.params,
  );
}

/** Step 1: the table loses every row the shadow does not own; production has no rows left. */
async function truncate(client: pg.ClientBase, write: TableWrite, names: OverlayNames): Promise<void> {
  const table = qualified(write.table.name);
  const key = write.table.primaryKey.map(ident);
  await client.query(`SELECT count(*) FROM (SELECT 1 FROM ${table} FOR UPDATE) locked`);
  // A new statement: it sees every ownership committed while the lock above waited. Rows that
  // appeared since are the shadow's (owned) or not yet committed (invisible, left alone).
  await client.query(
    `DELETE FROM ${table} t WHERE NOT EXISTS
       (SELECT 1 FROM ${qualified(names.owned)} o WHERE ${key.map((k) => `o.${k} = t.${k}`).join(" AND ")})`,
  );
  await client.query(`DELETE FROM ${qualified(names.copy)}`);
}

/** One overlay-aware write in progress: what every step that writes the table needs. */
interface TableWriter {
  client: pg.ClientBase;
  write: TableWrite;
  names: OverlayNames;
  copy: CopyPath | undefined;
  /** Statements writing the table run under a savepoint (the table has other unique indexes). */
  guarded: boolean;
  /** Production rows kept aside so far (hidden by a conflict with an overlay row). */
  hidden: number;
}

type UniqueViolation = Error & { code: "23505"; constraint?: string };

function isUniqueViolation(error: unknown): error is UniqueViolation {
  return (error as { code?: unknown } | null)?.code === "23505";
}

const savepoint = "shadowdb_write";

/** `work` under a savepoint: a unique violation rolls back to it and is returned, not thrown. */
async function attempt<T>(
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
async function heldByOverlay(w: TableWriter, row: Row, index: UniqueIndex): Promise<boolean> {
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
async function hide(w: TableWriter, row: Row, existed: boolean): Promise<void> {
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
async function hideOrThrow(w: TableWriter, row: Row, error: UniqueViolation, existed: boolean) {
  const index = error.constraint
    ? await uniqueIndex(w.client, w.write.table.name, error.constraint)
    : undefined;
  if (!index || index.primary || !(await heldByOverlay(w, row, index))) throw error;
  await hide(w, row, existed);
}

/** Step 5 for keys that exist (locked at step 2) and are not owned: an upsert into the table. */
async function upsertExisting(w: TableWriter, rows: Row[]): Promise<void> {
  const { client, write } = w;
  const table = write.table.name;
  if (!w.guarded) return upsertRows(client, write, table, rows, w.copy);
  for (const group of groupByColumns(rows).values()) {
    const columns = Object.keys(group[0]!);
    for await (const source of rowSources(client, write, columns, group, w.copy)) {
      const sql = insertStatement(write, table, columns, source.select, "update");
      const whole = await attempt(client, () => client.query(sql, source.params));
      if (whole.ok) continue;
      for (const row of source.rows) {
        const one = await attempt(client, () => upsertRows(client, write, table, [row]));
        if (!one.ok) await hideOrThrow(w, row, one.error, true);
      }
    }
  }
}

interface Inserted {
  inserted: Row[];
  lost: Row[];
}

/** One insert statement with DO NOTHING on the key: which of its rows went in, which did not. */
async function insertSource(w: TableWriter, columns: string[], source: RowSource): Promise<Inserted> {
  const key = w.write.table.primaryKey.map(ident);
  const insert = `${insertStatement(w.write, w.write.table.name, columns, source.select, "nothing")} RETURNING ${key.join(", ")}`;
  const k = keyRelation(w.write, source.rows, source.params.length + 1);
  const { rows: result } = await w.client.query<{ ord: string; inserted: boolean }>(
    `WITH ins AS (${insert})
     SELECT u.ord, EXISTS (SELECT 1 FROM ins WHERE ${k.matches("ins")}) AS inserted FROM ${k.from}`,
    [...source.params, ...k.params],
  );
  const out: Inserted = { inserted: [], lost: [] };
  for (const r of result) (r.inserted ? out.inserted : out.lost).push(source.rows[Number(r.ord) - 1]!);
  return out;
}

/**
 * Step 5 for keys absent at step 2 and not owned at step 3: insert with DO NOTHING, and return
 * the rows that did not stay in the table (lost to a shadow insert, or owned meanwhile). Rows
 * hidden by a conflict are neither: they are in the copy already.
 */
async function insertAbsent(w: TableWriter, rows: Row[]): Promise<Row[]> {
  const { client, write, names } = w;
  const keyCount = write.table.primaryKey.length;
  const all: Inserted = { inserted: [], lost: [] };
  // Row by row: a spread of a COPY source's rows can overflow the call stack.
  const add = (part: Inserted) => {
    for (const row of part.inserted) all.inserted.push(row);
    for (const row of part.lost) all.lost.push(row);
  };
  for (const group of groupByColumns(rows).values()) {
    const columns = Object.keys(group[0]!);
    for await (const source of rowSources(client, write, columns, group, w.copy, keyCount)) {
      if (!w.guarded) {
        add(await insertSource(w, columns, source));
        continue;
      }
      const whole = await attempt(client, () => insertSource(w, columns, source));
      if (whole.ok) {
        add(whole.value);
        continue;
      }
      for (const row of source.rows) {
        const one = await attempt(client, async () => {
          const part: Inserted = { inserted: [], lost: [] };
          for await (const single of rowSources(client, write, columns, [row], undefined, keyCount)) {
            const out = await insertSource(w, columns, single);
            for (const r of out.inserted) part.inserted.push(r);
            for (const r of out.lost) part.lost.push(r);
          }
          return part;
        });
        if (one.ok) add(one.value);
        else await hideOrThrow(w, row, one.error, false);
      }
    }
  }
  // Nobody else can own a key while our inserted row holds its place in the primary key; an
  // ownership visible now was committed before that, by a shadow write that left no row.
  const late = await ownedPositions(client, write, names, all.inserted);
  const moved = all.inserted.filter((_, i) => late.has(i));
  await deleteRows(client, write, write.table.name, moved);
  return [...all.lost, ...moved];
}

export async function writeOverlay(
  client: pg.ClientBase,
  write: TableWrite,
  copy?: CopyPath,
): Promise<WriteOutcome> {
  const names = write.overlay!;
  if (write.table.primaryKey.length === 0)
    throw new ShadowdbError("OVERLAY_NOT_INSTALLED", `${write.table.name.name} has no primary key`);
  const { uniques } = await lockOverlayForWrite(client, names.table);
  const w: TableWriter = { client, write, names, copy, guarded: uniques, hidden: 0 };
  if (write.truncate) await truncate(client, write, names);

  const all = [...write.deletes, ...write.upserts];
  const existing = await lockExisting(client, write, all);
  const owned = await ownedPositions(client, write, names, all);

  const route = <T>(rows: T[], offset: number) => {
    const out = { copy: [] as T[], table: [] as T[], absent: [] as T[] };
    rows.forEach((row, i) => {
      if (owned.has(offset + i)) out.copy.push(row);
      else if (existing.has(offset + i)) out.table.push(row);
      else out.absent.push(row);
    });
    return out;
  };
  const deletes = route(write.deletes, 0);
  const upserts = route(write.upserts, write.deletes.length);

  // Deletes first, as without the overlay (a unique value a delete frees may be inserted again).
  await deleteRows(client, write, names.copy, deletes.copy);
  await deleteRows(client, write, write.table.name, deletes.table);
  await upsertRows(client, write, names.copy, upserts.copy, copy);
  // Locked at step 2: the row (or after a delete above, its place in the key) stays ours.
  await upsertExisting(w, upserts.table);
  const lost = await insertAbsent(w, upserts.absent);
  await upsertRows(client, write, names.copy, lost, copy);
  return { toCopy: deletes.copy.length + upserts.copy.length, lostInserts: lost.length, hidden: w.hidden };
}
