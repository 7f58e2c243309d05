/**
 * Schema following on PostgreSQL (docs/schema.md): production's columns as shadowdb last saw them
 * (shadowdb_columns), and the ALTERs that make a shadow table hold what production now sends.
 */
import type pg from "pg";
import type { ColumnChange, KnownColumn, QualifiedName } from "../dialect.ts";
import { ident, qualified } from "./sql.ts";
import { postgresParam } from "./types.ts";

export const knownColumnsDdl = `CREATE TABLE IF NOT EXISTS shadowdb_columns (
     table_schema text NOT NULL,
     table_name text NOT NULL,
     column_name text NOT NULL,
     source_type text NOT NULL,
     seen_at timestamptz NOT NULL DEFAULT now(),
     PRIMARY KEY (table_schema, table_name, column_name))`;

export async function knownColumnsPostgres(
  client: pg.ClientBase,
  name: QualifiedName,
): Promise<Map<string, string> | undefined> {
  const { rows } = await client.query<{ column_name: string; source_type: string }>(
    `SELECT column_name, source_type FROM shadowdb_columns WHERE table_schema = $1 AND table_name = $2`,
    [name.schema, name.name],
  );
  return rows.length === 0 ? undefined : new Map(rows.map((r) => [r.column_name, r.source_type]));
}

export async function recordColumnsPostgres(
  client: pg.ClientBase,
  name: QualifiedName,
  columns: KnownColumn[],
): Promise<void> {
  if (columns.length === 0) return;
  await client.query(
    `INSERT INTO shadowdb_columns (table_schema, table_name, column_name, source_type)
     SELECT $1, $2, c, t FROM unnest($3::text[], $4::text[]) AS u(c, t)
     ON CONFLICT (table_schema, table_name, column_name)
       DO UPDATE SET source_type = excluded.source_type, seen_at = now()`,
    [name.schema, name.name, columns.map((c) => c.name), columns.map((c) => c.type)],
  );
}

/** The column default as a literal (DDL takes no parameters), escaped by the driver. */
function defaultLiteral(
  client: pg.ClientBase,
  change: Extract<ColumnChange, { op: "add" }>,
): string | undefined {
  const value = change.column.type.default;
  if (value === undefined) return undefined;
  const param = postgresParam(value, change.column.type, change.sqlType);
  if (param === null || param === undefined) return undefined;
  const text = Buffer.isBuffer(param) ? `\\x${param.toString("hex")}` : String(param);
  return (client as pg.Client).escapeLiteral(text);
}

export async function alterColumnsPostgres(
  client: pg.ClientBase,
  name: QualifiedName,
  changes: ColumnChange[],
  copy?: QualifiedName,
): Promise<void> {
  for (const change of changes) {
    const column = ident(change.op === "add" ? change.column.name : change.column);
    switch (change.op) {
      case "add": {
        const literal = defaultLiteral(client, change);
        const fill = literal === undefined ? "" : ` DEFAULT ${literal}`;
        // NOT NULL only with a default: without one, existing rows would have nothing to hold.
        const notNull = literal !== undefined && !change.column.type.optional ? " NOT NULL" : "";
        await client.query(
          `ALTER TABLE ${qualified(name)} ADD COLUMN IF NOT EXISTS ${column} ${change.sqlType}${fill}${notNull}`,
        );
        // The copy holds production's versions: existing ones get the default as production's did.
        if (copy)
          await client.query(
            `ALTER TABLE IF EXISTS ${qualified(copy)} ADD COLUMN IF NOT EXISTS ${column} ${change.sqlType}${fill}`,
          );
        break;
      }
      case "widen":
        for (const table of copy ? [name, copy] : [name]) {
          await client.query(
            `ALTER TABLE IF EXISTS ${qualified(table)} ALTER COLUMN ${column} TYPE ${change.sqlType}`,
          );
        }
        break;
      case "relax":
        await client.query(`ALTER TABLE ${qualified(name)} ALTER COLUMN ${column} DROP NOT NULL`);
        break;
    }
  }
}
