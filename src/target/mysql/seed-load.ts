/**
 * The target side of `shadowdb seed` on MySQL/MariaDB: LOAD DATA LOCAL of the source's text into
 * an empty table and the positions the stream goes on from, in one transaction of the apply
 * session (marked as shadowdb's: the overlay's triggers stay quiet, as for any apply).
 */
import type { Readable } from "node:stream";
import type mysql from "mysql2/promise";
import { ShadowdbError } from "../../errors.ts";
import type { QualifiedName, SeedLoad, TableShape } from "../dialect.ts";
import { savePositions } from "./bookkeeping.ts";
import { columnDefinitions } from "./introspect.ts";
import { LOAD_FORMAT, loadColumns } from "./seed-text.ts";
import { ident, qualified } from "./sql.ts";

/**
 * The DDL of a table shaped like the source's. Types are the source catalogue's COLUMN_TYPE
 * text, never text from an event.
 */
export function tableLikeDdl(name: QualifiedName, shape: TableShape): string[] {
  const defs = [...shape.columns.values()].map(
    (c) => `${ident(c.name)} ${c.sqlType}${c.nullable ? " NULL" : " NOT NULL"}`,
  );
  if (shape.primaryKey.length > 0) defs.push(`PRIMARY KEY (${shape.primaryKey.map(ident).join(", ")})`);
  return [
    ...(name.schema === "" ? [] : [`CREATE DATABASE IF NOT EXISTS ${ident(name.schema)}`]),
    `CREATE TABLE IF NOT EXISTS ${qualified(name)} (${defs.join(", ")}) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
  ];
}

export async function seedMysql(conn: mysql.Connection, load: SeedLoad): Promise<number> {
  const table = qualified(load.table);
  // A locking read: with the table empty it locks the gap before the first key, so a concurrent
  // seed or apply of this table waits for this transaction and then finds the rows.
  const [found] = await conn.query(`SELECT 1 FROM ${table} LIMIT 1 FOR UPDATE`);
  if ((found as unknown[]).length > 0)
    throw new ShadowdbError(
      "SEED_NOT_EMPTY",
      `${load.table.schema}.${load.table.name} already has rows; seed loads empty tables only (empty it, or let the connector's snapshot fill it)`,
    );
  const types = new Map((await columnDefinitions(conn, load.table)).map((d) => [d.name, d.type]));
  const { list, set } = loadColumns(
    load.columns.map((name) => ({ name, columnType: types.get(name) ?? "" })),
  );
  const [result] = await conn.query({
    sql: `LOAD DATA LOCAL INFILE 'shadowdb-seed' INTO TABLE ${table} ${LOAD_FORMAT} ${list}${set}`,
    infileStreamFactory: () => load.rows as Readable,
  });
  const header = result as mysql.ResultSetHeader;
  // LOCAL turns a value the column cannot take into a warning and loads the rest (the server
  // cannot stop the client's stream): a warning fails the seed, and the transaction with it.
  if (header.warningStatus > 0) {
    const [warnings] = await conn.query("SHOW WARNINGS LIMIT 3");
    const text = (warnings as { Code: number; Message: string }[]).map((w) => `${w.Code}: ${w.Message}`);
    throw new ShadowdbError(
      "TARGET_DATA",
      `${load.table.schema}.${load.table.name}: LOAD DATA reported ${header.warningStatus} warnings (${text.join("; ")})`,
    );
  }
  await savePositions(conn, load.groupId, load.positions);
  return header.affectedRows;
}
