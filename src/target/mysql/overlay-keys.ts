/**
 * A write's keys in a temporary table of the session, numbered by their position in the write.
 * The database then matches them against the table's, the ownership table's and the copy's keys
 * with the key columns' own types and collations, so no key value is ever compared in JS (under a
 * _ci collation 'a' is 'A', a DATETIME '2024-01-01T00:00' is '2024-01-01 00:00:00.000000', a
 * DECIMAL 1.5 is 1.50). MySQL has no `unnest … WITH ORDINALITY`; a derived table of parameters
 * would compare under the connection's collation, not the column's.
 *
 * Its clustered index is (key, ordinal), so a join that starts from it visits (and locks) the
 * table's rows in key order, as concurrent writers should. CREATE / DROP TEMPORARY TABLE do not
 * commit the open transaction; the rows are transactional (InnoDB) and emptied before each use.
 */
import { createHash } from "node:crypto";
import type mysql from "mysql2/promise";
import { ShadowdbError } from "../../errors.ts";
import type { QualifiedName, TableWrite } from "../dialect.ts";
import { chunks, largestRowChars, type Row, rowParams } from "./apply.ts";
import { executeRows } from "./execute.ts";
import { columnDdl, columnDefinitions } from "./introspect.ts";
import { ident } from "./sql.ts";

/** The column that numbers the keys (1-based in SQL, 0-based positions in JS). */
export const ORDINAL = "shadowdb_ordinal";

/** Per connection: the key tables it has, with the key declaration each was made for. */
const made = new WeakMap<mysql.Connection, Map<string, string>>();

function tableName(table: QualifiedName): string {
  const hash = createHash("sha1").update(`${table.schema}\u0000${table.name}`).digest("hex").slice(0, 16);
  return `shadowdb_keys_${hash}`;
}

/**
 * The session's key table for `table` (quoted name), created if this connection has none or has
 * one for another key declaration. `signature` tells apart key declarations without asking the
 * catalogue on every write; without one the catalogue is read.
 */
export async function keyTable(
  conn: mysql.Connection,
  table: QualifiedName,
  key: string[],
  signature?: string,
): Promise<string> {
  const name = tableName(table);
  const mine = made.get(conn) ?? new Map<string, string>();
  made.set(conn, mine);
  if (signature !== undefined && mine.get(name) === signature) return ident(name);
  if (key.includes(ORDINAL))
    throw new ShadowdbError(
      "TARGET_SCHEMA",
      `${table.name}: a key column named ${ORDINAL} clashes with the overlay's`,
    );
  const columns = await columnDefinitions(conn, table);
  const defs = key.map((k) => {
    const column = columns.find((c) => c.name === k);
    if (!column) throw new ShadowdbError("TARGET_SCHEMA", `${table.name} has no key column ${k}`);
    return columnDdl(column, true);
  });
  const keyList = key.map(ident).join(", ");
  await conn.query(`DROP TEMPORARY TABLE IF EXISTS ${ident(name)}`);
  await conn.query(
    `CREATE TEMPORARY TABLE ${ident(name)} (
       ${ident(ORDINAL)} int NOT NULL AUTO_INCREMENT, ${defs.join(", ")},
       PRIMARY KEY (${keyList}, ${ident(ORDINAL)}), KEY (${ident(ORDINAL)})) ENGINE=InnoDB`,
  );
  mine.set(name, signature ?? defs.join(", "));
  return ident(name);
}

/** The key declaration of a write's table as its shape describes it: tells key tables apart. */
export function keySignature(write: TableWrite): string {
  return write.table.primaryKey.map((k) => `${k} ${write.table.columns.get(k)?.sqlType}`).join(", ");
}

/** Empties `keys` and fills it with the keys of `rows`, numbered 1… in their order. */
export async function fillKeys(conn: mysql.Connection, keys: string, write: TableWrite, rows: Row[]) {
  await conn.query(`DELETE FROM ${keys}`);
  const key = write.table.primaryKey;
  const tuple = `(${["?", ...key.map(() => "?")].join(", ")})`;
  let ordinal = 0;
  // Each row sends its ordinal (a number, 8) before its key.
  for (const part of chunks(rows, key.length + 1, largestRowChars(rows, key) + 8)) {
    const params = part.flatMap((row) => [++ordinal, ...rowParams(write, [row], key)]);
    await executeRows(
      conn,
      `INSERT INTO ${keys} (${[ORDINAL, ...key].map(ident).join(", ")}) VALUES ${part.map(() => tuple).join(", ")}`,
      params,
    );
  }
}

/** Runs a query whose first column is the key table's ordinal; returns 0-based positions. */
export async function positions(
  conn: mysql.Connection,
  sql: string,
  params: unknown[] = [],
): Promise<Set<number>> {
  const [rows] = await conn.query({ sql, rowsAsArray: true }, params);
  return new Set((rows as unknown[][]).map((r) => Number(r[0]) - 1));
}

/** `AND k.shadowdb_ordinal IN (…)` for 0-based `only`, or nothing when every key counts. */
export function onlyOrdinals(alias: string, only: number[] | undefined): { sql: string; params: number[] } {
  if (only === undefined) return { sql: "", params: [] };
  if (only.length === 0) return { sql: " AND FALSE", params: [] };
  return {
    sql: ` AND ${alias}.${ident(ORDINAL)} IN (${only.map(() => "?").join(", ")})`,
    params: only.map((i) => i + 1),
  };
}
