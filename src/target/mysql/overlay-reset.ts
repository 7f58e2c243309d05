/**
 * Reset: owned rows get production's version back (their copy row, or no row) and stop being
 * owned. One transaction on a session marked like apply's (the triggers skip it, FK checks off);
 * the registry row locked exclusively first, so a reset and the writes of apply serialise per
 * table while both go on. Afterwards the table equals production for those keys, including what
 * production changed while they were owned (apply kept the copy current).
 *
 * Hidden rows (how 'c': production rows kept aside by a unique conflict with an overlay row) come
 * back like any copy row. Every reset key's table row is deleted before any copy row is inserted,
 * so an overlay row that blocks a hidden one is out of the way when both are reset (always so for
 * a reset of all). Resetting a hidden key while the overlay row that blocks it stays owned fails
 * with the database's duplicate-key error (1062, TARGET_CONSTRAINT), and the whole reset rolls
 * back: nothing changes until that key is reset along with it.
 */
import type mysql from "mysql2/promise";
import type { OverlayNames, TableWrite } from "../dialect.ts";
import { inTransaction } from "../transaction.ts";
import type { Row } from "./apply.ts";
import { lockOverlay } from "./bookkeeping.ts";
import { columnDefinitions, describeMysql } from "./introspect.ts";
import { overlaidTable } from "./overlay-install.ts";
import { fillKeys, keyTable, ORDINAL, positions } from "./overlay-keys.ts";
import { ident, matches, qualified } from "./sql.ts";

export async function resetOverlay(
  conn: mysql.Connection,
  names: OverlayNames,
  given?: Row[],
): Promise<number> {
  const { columns, key } = await overlaidTable(conn, names.table);
  // Production's columns that the table still has and can take a value (not generated).
  const kept = new Set((await columnDefinitions(conn, names.copy)).map((c) => c.name));
  const restored = columns.filter((c) => kept.has(c.name) && !c.generated).map((c) => ident(c.name));
  const table = qualified(names.table);
  const owned = qualified(names.owned);
  const copy = qualified(names.copy);
  return inTransaction(
    (sql) => conn.query(sql),
    "START TRANSACTION",
    async () => {
      await lockOverlay(conn, names.table, "update");
      const keys = await keyTable(conn, names.table, key);
      if (given) {
        if (given.length === 0) return 0;
        const shape = (await describeMysql(conn, names.table))!;
        const write: TableWrite = { table: shape, types: {}, upserts: [], deletes: given, truncate: false };
        await fillKeys(conn, keys, write, given);
        // The given keys that are owned, locked: a shadow write in flight on them finishes first.
        const found = await positions(
          conn,
          `SELECT STRAIGHT_JOIN k.${ident(ORDINAL)} FROM ${keys} k JOIN ${owned} o ON ${matches(key, "o", "k")} FOR UPDATE`,
        );
        if (found.size === 0) return 0;
        await conn.query(`DELETE FROM ${keys} WHERE ${ident(ORDINAL)} NOT IN (?)`, [
          [...found].map((p) => p + 1),
        ]);
      } else {
        await conn.query(`DELETE FROM ${keys}`);
        await conn.query(
          `INSERT INTO ${keys} (${key.map(ident).join(", ")}) SELECT ${key.map((k) => `o.${ident(k)}`).join(", ")} FROM ${owned} o FOR UPDATE`,
        );
      }
      // The shadow's versions go, production's come back, and the keys stop being owned.
      await conn.query(`DELETE t FROM ${table} t JOIN ${keys} k ON ${matches(key, "t", "k")}`);
      await conn.query(
        `INSERT INTO ${table} (${restored.join(", ")})
         SELECT ${restored.map((c) => `c.${c}`).join(", ")} FROM ${copy} c
          WHERE EXISTS (SELECT 1 FROM ${keys} k WHERE ${matches(key, "c", "k")})`,
      );
      await conn.query(`DELETE c FROM ${copy} c JOIN ${keys} k ON ${matches(key, "c", "k")}`);
      const [result] = await conn.query(
        `DELETE o FROM ${owned} o JOIN ${keys} k ON ${matches(key, "o", "k")}`,
      );
      await conn.query(`DELETE FROM ${keys}`);
      return (result as mysql.ResultSetHeader).affectedRows;
    },
  );
}
