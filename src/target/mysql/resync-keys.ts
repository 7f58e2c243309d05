/**
 * Keys and rows for `shadowdb resync` on MySQL/MariaDB: the shadow table's keys in key order, page
 * by page (as text), which of them production's table still has (compared with the server's own
 * conversion of the text to the column's type), and production's rows for `--direct`.
 */
import mysql from "mysql2/promise";
import type { Value } from "../../decode/values.ts";
import { ShadowdbError } from "../../errors.ts";
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
      supportBigNumbers: true,
      bigNumberStrings: true,
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
    // Qualified, so that ORDER BY names the column, never an output's text.
    const columns = table.primaryKey.map((k) => `t.${ident(k)}`);
    const marks = columns.map(() => "?").join(", ");
    const where = after === undefined ? "" : `WHERE (${columns.join(", ")}) > (${marks})`;
    const [rows] = await (await this.session()).query({
      sql: `SELECT ${columns.map((c) => `CAST(${c} AS CHAR)`).join(", ")} FROM ${qualified(table.name)} t
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

  /**
   * Values as mysql2 reads them with exact numbers and dates as text (DECIMAL and BIGINT as
   * strings, binary and BIT as bytes, JSON parsed), which the target's write stores as they are.
   * Spatial columns are refused: mysql2 gives them as coordinates, not the WKB the write needs.
   */
  async rows(
    table: TableShape,
    columns: string[],
    after: string[] | undefined,
    limit: number,
  ): Promise<{ key: string[]; values: Value[] }[]> {
    const spatial = columns.filter((c) =>
      /^(geometry|point|linestring|polygon|multi|geometrycollection)/i.test(
        table.columns.get(c)?.sqlType ?? "",
      ),
    );
    if (spatial.length > 0)
      throw new ShadowdbError(
        "RESYNC_UNSUPPORTED",
        `resync --direct does not read spatial columns (${spatial.join(", ")}) on MySQL/MariaDB; use the snapshot path`,
      );
    const keys = table.primaryKey.map((k) => `t.${ident(k)}`);
    const marks = keys.map(() => "?").join(", ");
    const where = after === undefined ? "" : `WHERE (${keys.join(", ")}) > (${marks})`;
    const [rows] = await (await this.session()).query({
      sql: `SELECT ${keys.map((c) => `CAST(${c} AS CHAR)`).join(", ")}${columns.map((c) => `, t.${ident(c)}`).join("")}
        FROM ${qualified(table.name)} t ${where} ORDER BY ${keys.join(", ")} LIMIT ${Math.trunc(limit)}`,
      values: after ?? [],
      rowsAsArray: true,
    });
    return (rows as Value[][]).map((r) => ({
      key: r.slice(0, keys.length) as string[],
      values: r.slice(keys.length),
    }));
  }

  async close(): Promise<void> {
    await this.conn?.end().catch(() => undefined);
    this.conn = undefined;
  }
}
