/**
 * Writes one table's coalesced changes: truncate, then deletes, then multi-row upserts through
 * unnest (one array parameter per column, so the statement is the same for any row count).
 */
import type pg from "pg";
import type { Value } from "../../decode/values.ts";
import type { TableWrite } from "../dialect.ts";
import { groupByColumns } from "../rows.ts";
import { ident, qualified } from "./sql.ts";
import { postgresParam } from "./types.ts";

function column(write: TableWrite, name: string) {
  const column = write.table.columns.get(name);
  if (!column)
    throw Object.assign(new Error(`column ${name} is not in ${write.table.name.name}`), { code: "42703" });
  return column;
}

function param(write: TableWrite, name: string, value: Value | undefined): unknown {
  return postgresParam(value ?? null, write.types[name], write.table.columns.get(name)?.sqlType);
}

function params(write: TableWrite, names: string[], rows: Record<string, Value>[]): unknown[][] {
  return names.map((n) => rows.map((r) => param(write, n, r[n])));
}

export async function writePostgres(client: pg.ClientBase, write: TableWrite): Promise<void> {
  const table = qualified(write.table.name);
  const key = write.table.primaryKey;
  if (write.truncate) await client.query(`TRUNCATE TABLE ${table}`);

  if (write.deletes.length > 0) {
    const types = key.map((k) => `${column(write, k).sqlType}[]`);
    const list = key.map(ident).join(", ");
    const unnest = types.map((t, i) => `$${i + 1}::${t}`).join(", ");
    await client.query(
      `DELETE FROM ${table} WHERE (${list}) IN (SELECT * FROM unnest(${unnest}))`,
      params(write, key, write.deletes),
    );
  }

  for (const rows of groupByColumns(write.upserts).values()) {
    const names = Object.keys(rows[0]!);
    const columns = names.map((n) => column(write, n));
    const list = names.map(ident).join(", ");
    const updates = names.filter((n) => !key.includes(n)).map((n) => `${ident(n)} = EXCLUDED.${ident(n)}`);
    const conflict = `ON CONFLICT (${key.map(ident).join(", ")}) ${updates.length ? `DO UPDATE SET ${updates.join(", ")}` : "DO NOTHING"}`;
    // unnest flattens multi-dimensional arrays, so array columns take the row-by-row VALUES form.
    if (columns.some((c) => c.sqlType.endsWith("]"))) {
      // The protocol allows 65535 parameters per statement.
      const perStatement = Math.max(1, Math.floor(65535 / columns.length));
      for (let start = 0; start < rows.length; start += perStatement) {
        const chunk = rows.slice(start, start + perStatement);
        const values = chunk.map(
          (_, r) => `(${columns.map((c, i) => `$${r * columns.length + i + 1}::${c.sqlType}`).join(", ")})`,
        );
        const flat = chunk.flatMap((row) => names.map((n) => param(write, n, row[n])));
        await client.query(`INSERT INTO ${table} (${list}) VALUES ${values.join(", ")} ${conflict}`, flat);
      }
    } else {
      const unnest = columns.map((c, i) => `$${i + 1}::${c.sqlType}[]`).join(", ");
      await client.query(
        `INSERT INTO ${table} (${list}) SELECT * FROM unnest(${unnest}) ${conflict}`,
        params(write, names, rows),
      );
    }
  }
}
