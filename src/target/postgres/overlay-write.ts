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
 * Hidden by conflict (docs/design.md §4.5): overlay-hide.ts.
 */
import type pg from "pg";
import { ShadowdbError } from "../../errors.ts";
import type { OverlayNames, TableWrite, WriteOutcome } from "../dialect.ts";
import { groupByColumns } from "../rows.ts";
import {
  type CopyPath,
  deleteRows,
  insertStatement,
  type Row,
  type RowSource,
  rowSources,
  upsertRows,
} from "./apply.ts";
import { lockOverlayForWrite } from "./bookkeeping.ts";
import { attempt, type Hiding, hideOrThrow } from "./overlay-hide.ts";
import { keyRelation, ownedPositions, positions } from "./overlay-keys.ts";
import { ident, qualified } from "./sql.ts";

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

/** One overlay-aware write in progress: what every step that writes the table needs. */
interface TableWriter extends Hiding {
  copy: CopyPath | undefined;
  /** Statements writing the table run under a savepoint (the table has other unique indexes). */
  guarded: boolean;
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
