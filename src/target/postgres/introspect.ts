import type pg from "pg";
import type { QualifiedName, TableShape, TargetColumn } from "../dialect.ts";

/** The target table as PostgreSQL has it: real columns and types, not the event's idea of them. */
export async function describePostgres(
  client: pg.ClientBase,
  name: QualifiedName,
): Promise<TableShape | undefined> {
  const { rows } = await client.query<{
    column_name: string;
    sql_type: string;
    nullable: boolean;
    has_default: boolean;
    pk: boolean;
  }>(
    `SELECT a.attname AS column_name,
            format_type(a.atttypid, a.atttypmod) AS sql_type,
            NOT a.attnotnull AS nullable,
            a.atthasdef OR a.attidentity <> '' OR a.attgenerated <> '' AS has_default,
            coalesce(a.attnum = ANY(i.indkey), false) AS pk
       FROM pg_attribute a
       JOIN pg_class c ON c.oid = a.attrelid
       JOIN pg_namespace n ON n.oid = c.relnamespace
       LEFT JOIN pg_index i ON i.indrelid = c.oid AND i.indisprimary
      WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p')
        AND a.attnum > 0 AND NOT a.attisdropped
      ORDER BY a.attnum`,
    [name.schema, name.name],
  );
  if (rows.length === 0) return undefined;
  const columns = new Map<string, TargetColumn>();
  for (const r of rows)
    columns.set(r.column_name, {
      name: r.column_name,
      sqlType: r.sql_type,
      nullable: r.nullable,
      hasDefault: r.has_default,
    });
  // Key order is the index's column order, which is what ON CONFLICT needs to match.
  const { rows: keyRows } = await client.query<{ attname: string }>(
    `SELECT a.attname
       FROM pg_index i
       JOIN pg_class c ON c.oid = i.indrelid
       JOIN pg_namespace n ON n.oid = c.relnamespace
       CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
       JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum
      WHERE n.nspname = $1 AND c.relname = $2 AND i.indisprimary
      ORDER BY k.ord`,
    [name.schema, name.name],
  );
  return { name, columns, primaryKey: keyRows.map((r) => r.attname) };
}
