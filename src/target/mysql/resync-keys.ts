/**
 * Keys for `shadowdb resync`'s sweep of rows production no longer has, on MySQL/MariaDB: the
 * shadow table's keys in key order, page by page (as text), and which of them production's table
 * still has, compared with the server's own conversion of the text to the column's type.
 */
import mysql from "mysql2/promise";
import type { KeyReader, QualifiedName, TableShape } from "../dialect.ts";
import { describeMysql } from "./introspect.ts";
import { ident, qualified } from "./sql.ts";

export class MysqlKeyReader implements KeyReader {
  private conn: mysql.Connection | undefined;

  constructor(private readonly url: string) {}

  private async session(): Promise<mysql.Connection> {
    if (this.conn) return this.conn;
    const conn = await mysql.createConnection({
      uri: this.url.replace(/^mariadb:/, "mysql:"),
      dateStrings: true,
    });
    conn.on("error", () => undefined);
    await conn.query("SET time_zone = '+00:00'");
    this.conn = conn;
    return conn;
  }

  async describe(name: QualifiedName): Promise<TableShape | undefined> {
    return describeMysql(await this.session(), name);
  }

  async keys(table: TableShape, after: string[] | undefined, limit: number): Promise<string[][]> {
    const columns = table.primaryKey.map((k) => ident(k));
    const marks = columns.map(() => "?").join(", ");
    const where = after === undefined ? "" : `WHERE (${columns.join(", ")}) > (${marks})`;
    const [rows] = await (await this.session()).query({
      sql: `SELECT ${columns.map((c) => `CAST(${c} AS CHAR)`).join(", ")} FROM ${qualified(table.name)}
        ${where} ORDER BY ${columns.join(", ")} LIMIT ${Math.trunc(limit)}`,
      values: after ?? [],
      rowsAsArray: true,
    });
    return rows as string[][];
  }

  async present(table: TableShape, keys: string[][]): Promise<Set<number>> {
    if (keys.length === 0) return new Set();
    const key = table.primaryKey;
    const aliases = key.map((_, i) => `k${i}`);
    const derived = keys
      .map((_, r) => `SELECT ? AS i, ${aliases.map((a) => (r === 0 ? `? AS ${a}` : "?")).join(", ")}`)
      .join(" UNION ALL ");
    const [rows] = await (await this.session()).query(
      `SELECT u.i FROM (${derived}) u
        WHERE EXISTS (SELECT 1 FROM ${qualified(table.name)} t
                       WHERE ${key.map((k, i) => `t.${ident(k)} = u.${aliases[i]}`).join(" AND ")})`,
      keys.flatMap((k, r) => [r, ...k]),
    );
    return new Set((rows as { i: number | string }[]).map((r) => Number(r.i)));
  }

  async close(): Promise<void> {
    await this.conn?.end().catch(() => undefined);
    this.conn = undefined;
  }
}
