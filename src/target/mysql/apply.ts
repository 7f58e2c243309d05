/**
 * Writes one table's coalesced changes: "truncate" (as DELETE: TRUNCATE would commit the open
 * transaction and with it positions not yet earned), then deletes, then multi-row upserts.
 */
import type mysql from "mysql2/promise";
import type { TableWrite } from "../dialect.ts";
import { groupByColumns } from "../rows.ts";
import { ident, qualified } from "./sql.ts";
import { mysqlParam, mysqlPlaceholder } from "./types.ts";

const MAX_PLACEHOLDERS = 65535;

function* chunks<T>(items: T[], width: number): Generator<T[]> {
  const size = Math.max(1, Math.floor(MAX_PLACEHOLDERS / width));
  for (let i = 0; i < items.length; i += size) yield items.slice(i, i + size);
}

function requireColumns(write: TableWrite, names: string[]): void {
  for (const n of names) {
    if (!write.table.columns.has(n)) {
      throw Object.assign(new Error(`Unknown column '${n}' in ${write.table.name.name}`), { errno: 1054 });
    }
  }
}

export async function writeMysql(conn: mysql.Connection, write: TableWrite): Promise<void> {
  const table = qualified(write.table.name);
  const key = write.table.primaryKey;
  if (write.truncate) await conn.execute(`DELETE FROM ${table}`);

  if (write.deletes.length > 0) {
    const tuple = `(${key.map(() => "?").join(", ")})`;
    for (const rows of chunks(write.deletes, key.length)) {
      await conn.execute(
        `DELETE FROM ${table} WHERE (${key.map(ident).join(", ")}) IN (${rows.map(() => tuple).join(", ")})`,
        rows.flatMap((r) => key.map((k) => mysqlParam(r[k] ?? null, write.types[k]))),
      );
    }
  }

  for (const group of groupByColumns(write.upserts).values()) {
    const names = Object.keys(group[0]!);
    requireColumns(write, names);
    const tuple = `(${names.map((n) => mysqlPlaceholder(write.types[n])).join(", ")})`;
    const updates = names.filter((n) => !key.includes(n)).map((n) => `${ident(n)} = VALUES(${ident(n)})`);
    // With only key columns there is nothing to update; re-assigning the first key column is a no-op.
    const onDuplicate = updates.length > 0 ? updates.join(", ") : `${ident(key[0]!)} = ${ident(key[0]!)}`;
    for (const rows of chunks(group, names.length)) {
      await conn.execute(
        `INSERT INTO ${table} (${names.map(ident).join(", ")}) VALUES ${rows.map(() => tuple).join(", ")}
         ON DUPLICATE KEY UPDATE ${onDuplicate}`,
        rows.flatMap((r) => names.map((n) => mysqlParam(r[n] ?? null, write.types[n]))),
      );
    }
  }
}
