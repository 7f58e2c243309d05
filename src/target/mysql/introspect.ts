import type mysql from "mysql2/promise";
import type { QualifiedName, TableShape, TargetColumn } from "../dialect.ts";

/** The target table as MySQL has it: real columns and types, not the event's idea of them. */
export async function describeMysql(
  conn: mysql.Connection,
  name: QualifiedName,
): Promise<TableShape | undefined> {
  const [rows] = await conn.execute(
    `SELECT COLUMN_NAME AS name, COLUMN_TYPE AS sqlType, IS_NULLABLE = 'YES' AS nullable
       FROM information_schema.COLUMNS
      WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?
      ORDER BY ORDINAL_POSITION`,
    [name.schema, name.name],
  );
  const list = rows as { name: string; sqlType: string; nullable: number }[];
  if (list.length === 0) return undefined;
  const columns = new Map<string, TargetColumn>();
  for (const r of list) columns.set(r.name, { name: r.name, sqlType: r.sqlType, nullable: r.nullable === 1 });
  const [keys] = await conn.execute(
    `SELECT COLUMN_NAME AS name FROM information_schema.KEY_COLUMN_USAGE
      WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND CONSTRAINT_NAME = 'PRIMARY'
      ORDER BY ORDINAL_POSITION`,
    [name.schema, name.name],
  );
  return { name, columns, primaryKey: (keys as { name: string }[]).map((k) => k.name) };
}
