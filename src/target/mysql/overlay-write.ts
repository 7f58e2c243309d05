/**
 * The overlay-aware write (docs/design.md §4.3): changes to keys
 * the shadow owns go to the production copy, the others to the table, and a shadow write that
 * commits while apply waits for a row lock is never overwritten. Runs inside the apply
 * transaction, at READ COMMITTED: a locking read waits for a row's open writer and then reads the
 * latest committed version; a plain read takes a new snapshot per statement. Keys are matched by
 * their position in the write (overlay-keys.ts), never compared in JS.
 *
 * 0. Lock the table's registry row shared (reset locks it exclusively: they serialise).
 * 1. Truncate: lock every row (remembering their keys), then in a new statement delete those of
 *    them that are not owned; empty the copy.
 * 2. Lock the existing rows of the write's keys (FOR UPDATE), remember which exist.
 * 3. In a later statement, read which keys are owned: it sees an ownership committed while step 2
 *    waited for a row lock.
 * 4. Deletes: owned → from the copy; existing → from the table; absent → nothing.
 * 5. Upserts: owned → the copy; existing (locked since step 2, so still production's) → the
 *    table with ON DUPLICATE KEY UPDATE; absent → a plain INSERT, never ON DUPLICATE KEY UPDATE
 *    (that would overwrite a shadow insert that took the key meanwhile). A duplicate-key error
 *    (and only that: a data error stays an error, which INSERT IGNORE would turn into a warning
 *    and a mangled row) rolls back just that statement; its keys are locked and their ownership
 *    read again, and the keys that a shadow insert took go to the copy (lostInserts), the others
 *    are inserted again. Last, the inserted keys' ownership is read once more: a shadow
 *    transaction that inserted and deleted a key, committing while our insert waited for it,
 *    owns a key whose row was absent; our row then moves to the copy too.
 * 6. A duplicate on another unique index, in an insert of an absent key or in the upsert of an
 *    existing one (their keys cannot collide: locked, or checked absent), is narrowed down to its
 *    row by halving the statement; the row is hidden if it collides with an overlay row
 *    (overlay-hide.ts: kept in the copy, owned with how 'c'), else the error is thrown. InnoDB
 *    rolls back just the failed statement, so the transaction goes on.
 */
import type mysql from "mysql2/promise";
import { ShadowdbError } from "../../errors.ts";
import type { OverlayNames, TableWrite, WriteOutcome } from "../dialect.ts";
import { deleteKeys, type Row, rowStatements, upsertRows } from "./apply.ts";
import { lockOverlay } from "./bookkeeping.ts";
import { executeRows } from "./execute.ts";
import { Hider, isDuplicateKey } from "./overlay-hide.ts";
import { fillKeys, keySignature, keyTable, ORDINAL, onlyOrdinals, positions } from "./overlay-keys.ts";
import { ident, matches, qualified } from "./sql.ts";

/** Rows halved until the one a duplicate is about is alone in its statement. */
function halves(rows: Row[]): Row[][] {
  const middle = Math.ceil(rows.length / 2);
  return [rows.slice(0, middle), rows.slice(middle)];
}

/** Step 2 (and again after a lost insert): locks the existing rows of the keys; their positions. */
async function lockExisting(
  conn: mysql.Connection,
  write: TableWrite,
  keys: string,
  only?: number[],
): Promise<Set<number>> {
  if (only?.length === 0) return new Set();
  const filter = onlyOrdinals("k", only);
  // STRAIGHT_JOIN: from the key table (in key order) to the table's primary key, never a scan of
  // the table, which would lock (and wait for) rows the write does not touch.
  return positions(
    conn,
    `SELECT STRAIGHT_JOIN k.${ident(ORDINAL)} FROM ${keys} k
       JOIN ${qualified(write.table.name)} t ON ${matches(write.table.primaryKey, "t", "k")}
      WHERE TRUE${filter.sql} FOR UPDATE`,
    filter.params,
  );
}

/** Step 3 (and again after inserting): the positions of owned keys, as a new statement sees them. */
async function ownedPositions(
  conn: mysql.Connection,
  write: TableWrite,
  names: OverlayNames,
  keys: string,
  only?: number[],
): Promise<Set<number>> {
  if (only?.length === 0) return new Set();
  const filter = onlyOrdinals("k", only);
  return positions(
    conn,
    `SELECT k.${ident(ORDINAL)} FROM ${keys} k
      WHERE EXISTS (SELECT 1 FROM ${qualified(names.owned)} o WHERE ${matches(write.table.primaryKey, "o", "k")})${filter.sql}`,
    filter.params,
  );
}

/** Step 1: the table loses every row the shadow does not own; production has no rows left. */
async function truncate(conn: mysql.Connection, write: TableWrite, names: OverlayNames, keys: string) {
  const key = write.table.primaryKey;
  const table = qualified(write.table.name);
  await conn.query(`DELETE FROM ${keys}`);
  // Locks every row (waiting for open shadow writes) and keeps their keys: rows that appear later
  // are shadow inserts, owned, and must stay.
  await conn.query(
    `INSERT INTO ${keys} (${key.map(ident).join(", ")}) SELECT ${key.map((k) => `t.${ident(k)}`).join(", ")} FROM ${table} t FOR UPDATE`,
  );
  // A new statement: it sees every ownership committed before the locks above were granted.
  await conn.query(
    `DELETE t FROM ${table} t JOIN ${keys} k ON ${matches(key, "t", "k")}
       LEFT JOIN ${qualified(names.owned)} o ON ${matches(key, "o", "t")}
      WHERE o.${ident(key[0]!)} IS NULL`,
  );
  await conn.query(`DELETE FROM ${qualified(names.copy)}`);
}

interface Routed {
  copy: Row[];
  table: Row[];
  absent: Row[];
}

/**
 * Step 5 for keys present at step 2 (or found present later) and not owned: the table's upsert, as
 * without the overlay; they are locked, so the key itself cannot collide. A duplicate is then on
 * another unique index: the statement is halved until the row it is about stands alone, and that
 * row is hidden if it collides with an overlay row (overlay-hide.ts), or the error is thrown.
 */
async function upsertExisting(conn: mysql.Connection, write: TableWrite, rows: Row[], hider: Hider) {
  for (const statement of rowStatements(write, write.table.name, rows, "upsert")) {
    try {
      await executeRows(conn, statement.sql, statement.params);
    } catch (error) {
      if (!isDuplicateKey(error)) throw error;
      if (statement.rows.length > 1) {
        for (const half of halves(statement.rows)) await upsertExisting(conn, write, half, hider);
      } else if (!(await hider.hide(statement.rows[0]!, true))) throw error;
    }
  }
}

/**
 * Step 5 for keys absent at step 2 and not owned at step 3: plain INSERTs. Returns the rows that
 * did not stay in the table (lost to a shadow insert, or owned meanwhile) and those that turned
 * out to exist, not owned (to upsert into the table, locked now). A duplicate where none of the
 * statement's keys exists is on another unique index: halves as in upsertExisting, down to the
 * row, which is hidden or the error thrown.
 */
async function insertAbsent(
  conn: mysql.Connection,
  write: TableWrite,
  names: OverlayNames,
  keys: string,
  rows: Row[],
  at: Map<Row, number>,
  hider: Hider,
): Promise<{ lost: Row[]; existing: Row[] }> {
  const lost: Row[] = [];
  const existing: Row[] = [];
  const inserted: Row[] = [];
  // Each failed statement settles at least one of its keys, or is halved, or throws.
  const place = async (pending: Row[]): Promise<void> => {
    const again: Row[] = [];
    for (const statement of rowStatements(write, write.table.name, pending, "insert")) {
      try {
        await executeRows(conn, statement.sql, statement.params);
        for (const row of statement.rows) inserted.push(row);
      } catch (error) {
        if (!isDuplicateKey(error)) throw error;
        const ordinals = statement.rows.map((r) => at.get(r)!);
        // A locking read waits for the writer that holds the key, then sees it committed.
        const present = await lockExisting(conn, write, keys, ordinals);
        if (present.size > 0) {
          const owned = await ownedPositions(conn, write, names, keys, [...present]);
          for (const r of statement.rows) {
            const p = at.get(r)!;
            if (!present.has(p)) again.push(r);
            else if (owned.has(p)) lost.push(r);
            else existing.push(r);
          }
        } else if (statement.rows.length > 1) {
          for (const half of halves(statement.rows)) await place(half);
        } else if (!(await hider.hide(statement.rows[0]!, false))) throw error;
      }
    }
    if (again.length > 0) await place(again);
  };
  await place(rows);
  // Nobody can own a key while our inserted row holds its place; an ownership visible now was
  // committed before, by a shadow transaction that inserted and deleted the key.
  const late = await ownedPositions(
    conn,
    write,
    names,
    keys,
    inserted.map((r) => at.get(r)!),
  );
  const moved = inserted.filter((r) => late.has(at.get(r)!));
  await deleteKeys(conn, write, write.table.name, moved);
  return { lost: [...lost, ...moved], existing };
}

/** A key's values as text, to match a delete and an upsert that coalesce made of the same key. */
function keyText(key: string[], row: Row): string {
  return key
    .map((k) => {
      const v = row[k];
      return Buffer.isBuffer(v) ? `x${v.toString("hex")}` : `${typeof v}:${String(v)}`;
    })
    .join("\u0000");
}

export async function writeOverlay(conn: mysql.Connection, write: TableWrite): Promise<WriteOutcome> {
  const names = write.overlay!;
  const key = write.table.primaryKey;
  if (key.length === 0)
    throw new ShadowdbError("TARGET_SCHEMA", `${write.table.name.name} has no primary key: no overlay`);
  await lockOverlay(conn, names.table, "share");
  const keys = await keyTable(conn, names.table, key, keySignature(write));
  if (write.truncate) await truncate(conn, write, names, keys);

  const all = [...write.deletes, ...write.upserts];
  if (all.length === 0) return { toCopy: 0, lostInserts: 0, hidden: 0 };
  const at = new Map<Row, number>(all.map((row, i) => [row, i]));
  await fillKeys(conn, keys, write, all);
  const existing = await lockExisting(conn, write, keys);
  const owned = await ownedPositions(conn, write, names, keys);

  const route = (rows: Row[]): Routed => {
    const out: Routed = { copy: [], table: [], absent: [] };
    for (const row of rows) {
      const p = at.get(row)!;
      if (owned.has(p)) out.copy.push(row);
      else if (existing.has(p)) out.table.push(row);
      else out.absent.push(row);
    }
    return out;
  };
  const deletes = route(write.deletes);
  const upserts = route(write.upserts);

  // Deletes first, as without the overlay (a unique value a delete frees may be inserted again).
  await deleteKeys(conn, write, names.copy, deletes.copy);
  await deleteKeys(conn, write, write.table.name, deletes.table);
  await upsertRows(conn, write, names.copy, upserts.copy);
  const hider = new Hider(conn, write, names);
  // A key deleted and created again in this write (coalesce's delete-first) is no longer there:
  // ON DUPLICATE KEY UPDATE would then update whatever row holds one of its other unique values,
  // an overlay row included. It is inserted plainly, as an absent key is.
  const deletedHere = new Set(deletes.table.map((row) => keyText(key, row)));
  const recreated = upserts.table.filter((row) => deletedHere.has(keyText(key, row)));
  const kept = upserts.table.filter((row) => !deletedHere.has(keyText(key, row)));
  // Locked at step 2: the row stays ours.
  await upsertExisting(conn, write, kept, hider);
  const { lost, existing: found } = await insertAbsent(
    conn,
    write,
    names,
    keys,
    [...upserts.absent, ...recreated],
    at,
    hider,
  );
  await upsertExisting(conn, write, found, hider);
  await upsertRows(conn, write, names.copy, lost);
  return {
    toCopy: deletes.copy.length + upserts.copy.length,
    lostInserts: lost.length + hider.lost,
    hidden: hider.hidden,
  };
}
