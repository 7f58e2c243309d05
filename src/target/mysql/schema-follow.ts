/**
 * Schema following on MySQL/MariaDB (docs/schema.md): production's columns as shadowdb last saw
 * them (shadowdb_columns), and the ALTERs that make a shadow table hold what production now sends.
 * MODIFY COLUMN restates the whole column, so nullability, default, character set, collation,
 * AUTO_INCREMENT, ON UPDATE and comment are read back and restated as they are.
 */
import type mysql from "mysql2/promise";
import type { ColumnChange, KnownColumn, QualifiedName } from "../dialect.ts";
import { ident, qualified, schemaParam } from "./sql.ts";
import { mysqlParam } from "./types.ts";

export const knownColumnsDdl = `CREATE TABLE IF NOT EXISTS shadowdb_columns (
     table_schema varchar(64) NOT NULL,
     table_name varchar(64) NOT NULL,
     column_name varchar(64) NOT NULL,
     source_type text NOT NULL,
     seen_at timestamp(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
     PRIMARY KEY (table_schema, table_name, column_name))`;

export async function knownColumnsMysql(
  conn: mysql.Connection,
  name: QualifiedName,
): Promise<Map<string, string> | undefined> {
  const [rows] = await conn.execute(
    `SELECT column_name AS c, source_type AS t FROM shadowdb_columns
      WHERE table_schema = ${schemaParam} AND table_name = ?`,
    [name.schema, name.name],
  );
  const list = rows as { c: string; t: string }[];
  return list.length === 0 ? undefined : new Map(list.map((r) => [r.c, r.t]));
}

export async function recordColumnsMysql(
  conn: mysql.Connection,
  name: QualifiedName,
  columns: KnownColumn[],
): Promise<void> {
  if (columns.length === 0) return;
  const rows = columns.map(() => `(${schemaParam}, ?, ?, ?)`).join(", ");
  await conn.query(
    `INSERT INTO shadowdb_columns (table_schema, table_name, column_name, source_type) VALUES ${rows}
     ON DUPLICATE KEY UPDATE source_type = VALUES(source_type), seen_at = CURRENT_TIMESTAMP(6)`,
    columns.flatMap((c) => [name.schema, name.name, c.name, c.type]),
  );
}

interface Definition {
  nullable: string;
  columnDefault: string | null;
  charset: string | null;
  collation: string | null;
  extra: string;
  comment: string;
  generated: string;
}

async function definition(
  conn: mysql.Connection,
  table: QualifiedName,
  column: string,
): Promise<Definition | undefined> {
  const [rows] = await conn.execute(
    `SELECT IS_NULLABLE AS nullable, COLUMN_DEFAULT AS columnDefault, CHARACTER_SET_NAME AS charset,
            COLLATION_NAME AS collation, EXTRA AS extra, COLUMN_COMMENT AS comment,
            COALESCE(GENERATION_EXPRESSION, '') AS generated
       FROM information_schema.COLUMNS
      WHERE TABLE_SCHEMA = ${schemaParam} AND TABLE_NAME = ? AND COLUMN_NAME = ?`,
    [table.schema, table.name, column],
  );
  return (rows as Definition[])[0];
}

async function isMariadb(conn: mysql.Connection): Promise<boolean> {
  const [rows] = await conn.query("SELECT VERSION() AS v");
  return /mariadb/i.test(String((rows as { v: string }[])[0]?.v));
}

/** The column restated with a new type and nullability, everything else as it is. */
function restated(
  conn: mysql.Connection,
  column: string,
  sqlType: string,
  d: Definition,
  nullable: boolean,
  mariadb: boolean,
): string {
  const parts = [ident(column), sqlType];
  if (d.charset && d.collation && /char|text|enum|set/i.test(sqlType))
    parts.push(`CHARACTER SET ${d.charset} COLLATE ${d.collation}`);
  parts.push(nullable ? "NULL" : "NOT NULL");
  const extra = d.extra.toLowerCase();
  if (d.columnDefault !== null) {
    // MariaDB reports the default as an expression (quoted literal, NULL, a function); MySQL as
    // the bare value, with DEFAULT_GENERATED marking an expression.
    if (mariadb) parts.push(`DEFAULT ${d.columnDefault}`);
    else if (extra.includes("default_generated")) parts.push(`DEFAULT (${d.columnDefault})`);
    else parts.push(`DEFAULT ${conn.escape(d.columnDefault)}`);
  }
  if (extra.includes("auto_increment")) parts.push("AUTO_INCREMENT");
  const onUpdate = /on update (\S+)/i.exec(d.extra);
  if (onUpdate) parts.push(`ON UPDATE ${onUpdate[1]}`);
  if (d.comment) parts.push(`COMMENT ${conn.escape(d.comment)}`);
  return parts.join(" ");
}

async function currentType(conn: mysql.Connection, table: QualifiedName, column: string): Promise<string> {
  const [rows] = await conn.execute(
    `SELECT COLUMN_TYPE AS t FROM information_schema.COLUMNS
      WHERE TABLE_SCHEMA = ${schemaParam} AND TABLE_NAME = ? AND COLUMN_NAME = ?`,
    [table.schema, table.name, column],
  );
  return (rows as { t: string }[])[0]!.t;
}

export async function alterColumnsMysql(
  conn: mysql.Connection,
  name: QualifiedName,
  changes: ColumnChange[],
  copy?: QualifiedName,
): Promise<void> {
  const mariadb = await isMariadb(conn);
  const tables = async (withCopy: boolean) => {
    const list = [name];
    if (withCopy && copy && (await definitionOfTable(conn, copy))) list.push(copy);
    return list;
  };
  for (const change of changes) {
    switch (change.op) {
      case "add": {
        const value = change.column.type.default;
        const param = value === undefined ? null : mysqlParam(value, change.column.type);
        const fill = param === null ? "" : ` DEFAULT ${conn.escape(param)}`;
        const notNull = param !== null && !change.column.type.optional ? " NOT NULL" : " NULL";
        for (const table of await tables(true)) {
          if (await definition(conn, table, change.column.name)) continue;
          const nulls = table === name ? notNull : " NULL";
          await conn.query(
            `ALTER TABLE ${qualified(table)} ADD COLUMN ${ident(change.column.name)} ${change.sqlType}${fill}${nulls}`,
          );
        }
        break;
      }
      case "widen":
        for (const table of await tables(true)) {
          const d = await definition(conn, table, change.column);
          if (!d || d.generated) continue;
          const ddl = restated(conn, change.column, change.sqlType, d, d.nullable === "YES", mariadb);
          await conn.query(`ALTER TABLE ${qualified(table)} MODIFY COLUMN ${ddl}`);
        }
        break;
      case "relax": {
        const d = await definition(conn, name, change.column);
        if (!d || d.generated || d.nullable === "YES") break;
        const ddl = restated(
          conn,
          change.column,
          await currentType(conn, name, change.column),
          d,
          true,
          mariadb,
        );
        await conn.query(`ALTER TABLE ${qualified(name)} MODIFY COLUMN ${ddl}`);
        break;
      }
    }
  }
}

async function definitionOfTable(conn: mysql.Connection, table: QualifiedName): Promise<boolean> {
  const [rows] = await conn.execute(
    `SELECT 1 AS x FROM information_schema.TABLES WHERE TABLE_SCHEMA = ${schemaParam} AND TABLE_NAME = ?`,
    [table.schema, table.name],
  );
  return (rows as unknown[]).length > 0;
}
