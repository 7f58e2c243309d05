import type mysql from "mysql2/promise";
import type { QualifiedName, TableShape, TargetColumn } from "../dialect.ts";
import { ident, schemaParam } from "./sql.ts";

/** The target table as MySQL has it: real columns and types, not the event's idea of them. */
export async function describeMysql(
  conn: mysql.Connection,
  name: QualifiedName,
): Promise<TableShape | undefined> {
  const [rows] = await conn.execute(
    `SELECT COLUMN_NAME AS name, COLUMN_TYPE AS sqlType, IS_NULLABLE = 'YES' AS nullable,
            COLUMN_DEFAULT IS NOT NULL OR EXTRA LIKE '%auto_increment%'
              OR COALESCE(GENERATION_EXPRESSION, '') <> '' AS hasDefault
       FROM information_schema.COLUMNS
      WHERE TABLE_SCHEMA = ${schemaParam} AND TABLE_NAME = ?
      ORDER BY ORDINAL_POSITION`,
    [name.schema, name.name],
  );
  const list = rows as { name: string; sqlType: string; nullable: number; hasDefault: number }[];
  if (list.length === 0) return undefined;
  const columns = new Map<string, TargetColumn>();
  for (const r of list)
    columns.set(r.name, {
      name: r.name,
      sqlType: r.sqlType,
      nullable: r.nullable === 1,
      hasDefault: Number(r.hasDefault) === 1,
    });
  return { name, columns, primaryKey: await primaryKeyOf(conn, name) };
}

export async function primaryKeyOf(conn: mysql.Connection, name: QualifiedName): Promise<string[]> {
  const [keys] = await conn.execute(
    `SELECT COLUMN_NAME AS name FROM information_schema.KEY_COLUMN_USAGE
      WHERE TABLE_SCHEMA = ${schemaParam} AND TABLE_NAME = ? AND CONSTRAINT_NAME = 'PRIMARY'
      ORDER BY ORDINAL_POSITION`,
    [name.schema, name.name],
  );
  return (keys as { name: string }[]).map((k) => k.name);
}

/** A column as the overlay's DDL needs it: enough to declare a twin that stores the same values. */
export interface ColumnDefinition {
  name: string;
  /** COLUMN_TYPE: `varchar(20)`, `int(10) unsigned`, `enum('a','b')`… */
  type: string;
  /** DATA_TYPE, lower case: what the value is (`varbinary`, `bit`, `point`…). */
  dataType: string;
  charset: string | null;
  collation: string | null;
  /** A generated (virtual or stored) column: readable, never written. */
  generated: boolean;
}

export async function columnDefinitions(
  conn: mysql.Connection,
  name: QualifiedName,
): Promise<ColumnDefinition[]> {
  const [rows] = await conn.execute(
    `SELECT COLUMN_NAME AS name, COLUMN_TYPE AS type, LOWER(DATA_TYPE) AS dataType,
            CHARACTER_SET_NAME AS charset, COLLATION_NAME AS collation,
            COALESCE(GENERATION_EXPRESSION, '') <> '' AS generated
       FROM information_schema.COLUMNS
      WHERE TABLE_SCHEMA = ${schemaParam} AND TABLE_NAME = ?
      ORDER BY ORDINAL_POSITION`,
    [name.schema, name.name],
  );
  return (rows as (Omit<ColumnDefinition, "generated"> & { generated: number | string })[]).map((r) => ({
    ...r,
    generated: Number(r.generated) === 1,
  }));
}

/**
 * The column's declaration for a twin column (ownership, copy, key tables): same type, character
 * set and collation, so that the twin stores and compares values as the table does. No default,
 * no generation expression, no AUTO_INCREMENT: the twin only ever receives values.
 */
export function columnDdl(column: ColumnDefinition, notNull: boolean): string {
  return `${ident(column.name)} ${typeDdl(column)} ${notNull ? "NOT NULL" : "NULL"}`;
}

/** The column's type with its character set and collation: `varchar(20) CHARACTER SET latin1 COLLATE …`. */
export function typeDdl(column: ColumnDefinition): string {
  const word = /^\w+$/;
  const charset =
    column.charset && column.collation && word.test(column.charset) && word.test(column.collation)
      ? ` CHARACTER SET ${column.charset} COLLATE ${column.collation}`
      : "";
  return `${column.type}${charset}`;
}

/** One column of an index, as far as a comparison needs it. */
export interface IndexPart {
  /** Null for a functional key part (MySQL 8): an expression, not a column. */
  column: string | null;
  /** Indexed prefix length (characters, or bytes for binary strings); null: the whole value. */
  prefix: number | null;
}

/**
 * The table's unique indexes other than the primary key, by name, with their parts in index
 * order. The catalogue says which values must be unique; no error message is read.
 */
export async function uniqueIndexes(
  conn: mysql.Connection,
  name: QualifiedName,
): Promise<Map<string, IndexPart[]>> {
  const [rows] = await conn.execute(
    `SELECT INDEX_NAME AS indexName, COLUMN_NAME AS columnName, SUB_PART AS prefix
       FROM information_schema.STATISTICS
      WHERE TABLE_SCHEMA = ${schemaParam} AND TABLE_NAME = ? AND NON_UNIQUE = 0 AND INDEX_NAME <> 'PRIMARY'
      ORDER BY INDEX_NAME, SEQ_IN_INDEX`,
    [name.schema, name.name],
  );
  const out = new Map<string, IndexPart[]>();
  for (const r of rows as {
    indexName: string;
    columnName: string | null;
    prefix: number | string | null;
  }[]) {
    const parts = out.get(r.indexName) ?? [];
    out.set(r.indexName, parts);
    parts.push({ column: r.columnName, prefix: r.prefix === null ? null : Number(r.prefix) });
  }
  return out;
}

/** The table's AUTO_INCREMENT column (InnoDB has at most one), with its integer type. */
export async function autoIncrementColumn(
  conn: mysql.Connection,
  name: QualifiedName,
): Promise<{ name: string; dataType: string; unsigned: boolean } | undefined> {
  const [rows] = await conn.execute(
    `SELECT COLUMN_NAME AS name, LOWER(DATA_TYPE) AS dataType, LOWER(COLUMN_TYPE) LIKE '%unsigned%' AS isUnsigned
       FROM information_schema.COLUMNS
      WHERE TABLE_SCHEMA = ${schemaParam} AND TABLE_NAME = ? AND LOWER(EXTRA) LIKE '%auto_increment%'`,
    [name.schema, name.name],
  );
  const found = (rows as { name: string; dataType: string; isUnsigned: number | string }[])[0];
  return found && { name: found.name, dataType: found.dataType, unsigned: Number(found.isUnsigned) === 1 };
}
