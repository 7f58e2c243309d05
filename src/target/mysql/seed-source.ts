/**
 * Production as `shadowdb seed` reads it on MySQL/MariaDB: one REPEATABLE READ transaction WITH
 * CONSISTENT SNAPSHOT, READ ONLY, so every table comes from the same instant; rows stream out as
 * LOAD DATA text (seed-text.ts), which the target's LOAD DATA LOCAL takes as is. UTC, so that
 * TIMESTAMP values print as the instants they are.
 */
import { PassThrough, Transform } from "node:stream";
import mysql from "mysql2";
import type { Connection as PromiseConnection } from "mysql2/promise";
import type { QualifiedName, SeedSource, TableShape } from "../dialect.ts";
import { seedSourceError } from "../seed-source-error.ts";
import { columnDefinitions, describeMysql, typeDdl } from "./introspect.ts";
import { loadField, readExpression } from "./seed-text.ts";
import { qualified } from "./sql.ts";

// Large enough that the per-chunk overhead vanishes, small enough to keep memory flat.
const chunkChars = 1 << 16;

export class MysqlSeedSource implements SeedSource {
  private conn: PromiseConnection | undefined;
  /** The same session without the promise wrapper: only it streams a query's rows. */
  private streaming: mysql.Connection | undefined;
  /** COLUMN_TYPE of each described table's columns, for the expressions that read them. */
  private readonly types = new Map<string, Map<string, string>>();

  constructor(private readonly url: string) {}

  private async session(): Promise<PromiseConnection> {
    if (this.conn) return this.conn;
    const streaming = mysql.createConnection({
      uri: this.url.replace(/^mariadb:/, "mysql:"),
      dateStrings: true,
    });
    streaming.on("error", () => undefined);
    const conn = streaming.promise();
    try {
      await conn.connect();
      await conn.query("SET time_zone = '+00:00'");
      await conn.query("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ");
    } catch (error) {
      conn.destroy();
      throw seedSourceError(error, "connecting to the seed source");
    }
    this.conn = conn;
    this.streaming = streaming;
    return conn;
  }

  async captureProblem(): Promise<string | undefined> {
    const conn = await this.session();
    const [rows] = await conn
      .query("SELECT @@log_bin AS logBin, @@binlog_format AS format, @@binlog_row_image AS image")
      .catch((error: unknown) => {
        throw seedSourceError(error, "reading the binlog settings");
      });
    const { logBin, format, image } = (rows as { logBin: number; format: string; image: string }[])[0]!;
    if (Number(logBin) !== 1)
      return "the source has no binary log (log_bin is off), so nothing keeps the changes committed while the seed runs; Debezium needs it too";
    if (String(format).toUpperCase() !== "ROW")
      return `binlog_format is ${format}: Debezium reads row events only (binlog_format=ROW), so changes committed while the seed runs would be lost`;
    if (String(image).toUpperCase() !== "FULL")
      return `binlog_row_image is ${image}: an update must carry the whole row (binlog_row_image=FULL) for the stream to end in production's rows`;
    return undefined;
  }

  async begin(): Promise<void> {
    const conn = await this.session();
    await conn.query("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY").catch((error: unknown) => {
      throw seedSourceError(error, "opening the seed snapshot");
    });
  }

  async describe(name: QualifiedName): Promise<TableShape | undefined> {
    const conn = await this.session();
    const read = async () => {
      const shape = await describeMysql(conn, name);
      if (!shape) return undefined;
      // A table created like this one keeps each column's character set and collation.
      for (const d of await columnDefinitions(conn, name)) {
        const column = shape.columns.get(d.name);
        if (column) column.sqlType = typeDdl(d);
      }
      return shape;
    };
    const shape = await read().catch((error: unknown) => {
      throw seedSourceError(error, `describing ${name.schema}.${name.name}`);
    });
    if (shape)
      this.types.set(qualified(name), new Map([...shape.columns.values()].map((c) => [c.name, c.sqlType])));
    return shape;
  }

  rows(name: QualifiedName, columns: string[]): NodeJS.ReadableStream {
    const out = new PassThrough();
    const fail = (error: unknown) =>
      out.destroy(seedSourceError(error, `reading ${name.schema}.${name.name}`));
    this.session().then(() => {
      const types = this.types.get(qualified(name));
      const select = columns.map((c) => readExpression(c, types?.get(c) ?? "")).join(", ");
      const query = this.streaming!.query({
        sql: `SELECT ${select} FROM ${qualified(name)}`,
        rowsAsArray: true,
        // Every value as the text the server sent: nothing goes through a JS number or Date.
        typeCast: (field: { string(): string | null }) => field.string(),
      });
      let text = "";
      const lines = new Transform({
        writableObjectMode: true,
        transform(row: (string | null)[], _encoding, done) {
          for (let i = 0; i < row.length; i++) text += (i === 0 ? "" : "\t") + loadField(row[i]!);
          text += "\n";
          if (text.length < chunkChars) return done();
          const chunk = text;
          text = "";
          done(null, chunk);
        },
        flush(done) {
          done(null, text.length > 0 ? text : undefined);
        },
      });
      const stream = query.stream();
      stream.on("error", fail);
      lines.on("error", fail);
      stream.pipe(lines).pipe(out);
    }, fail);
    return out;
  }

  async close(): Promise<void> {
    const conn = this.conn;
    this.conn = undefined;
    this.streaming = undefined;
    if (!conn) return;
    // Read only: ending the transaction either way changes nothing in production.
    await conn.query("ROLLBACK").catch(() => undefined);
    await conn.end().catch(() => conn.destroy());
  }
}
