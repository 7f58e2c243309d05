/**
 * The MySQL/MariaDB target: one session that applies, marked with @shadowdb_apply (the overlay
 * triggers test it), with FK checks off (changes of different tables arrive out of order), UTC,
 * READ COMMITTED; it reconnects after loss.
 */
import mysql from "mysql2/promise";
import type { Column } from "../../decode/index.ts";
import type { Position, QualifiedName, Target, TargetTransaction } from "../dialect.ts";
import { inTransaction } from "../transaction.ts";
import { writeMysql } from "./apply.ts";
import {
  deadLettersDdl,
  lockPosition,
  positionsDdl,
  readPositions,
  saveDeadLetters,
  savePositions,
} from "./bookkeeping.ts";
import { classifyMysql } from "./errors.ts";
import { describeMysql } from "./introspect.ts";
import { ident, qualified } from "./sql.ts";
import { mysqlType } from "./types.ts";

export class MysqlTarget implements Target {
  readonly dialect = "mysql" as const;
  private conn: mysql.Connection | undefined;

  constructor(
    private readonly url: string,
    private readonly deadLetterTable: QualifiedName = { schema: "", name: "shadowdb_dead_letters" },
  ) {}

  private async session(): Promise<mysql.Connection> {
    if (this.conn) return this.conn;
    const conn = await mysql.createConnection({
      uri: this.url.replace(/^mariadb:/, "mysql:"),
      supportBigNumbers: true,
      bigNumberStrings: true,
      dateStrings: true,
      multipleStatements: false,
    });
    conn.on("error", () => {
      if (this.conn === conn) this.conn = undefined;
    });
    await conn.query("SET SESSION foreign_key_checks = 0");
    await conn.query("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED");
    await conn.query("SET time_zone = '+00:00'");
    await conn.query("SET @shadowdb_apply = 1");
    this.conn = conn;
    return conn;
  }

  private async run<T>(work: (conn: mysql.Connection) => Promise<T>): Promise<T> {
    const conn = await this.session();
    try {
      return await work(conn);
    } catch (error) {
      if (classifyMysql(error).code === "TARGET_CONNECTION") await this.drop(conn);
      throw error;
    }
  }

  private async drop(conn: mysql.Connection): Promise<void> {
    if (this.conn === conn) this.conn = undefined;
    await conn.end().catch(() => conn.destroy());
  }

  async prepare(): Promise<void> {
    await this.run(async (c) => {
      await c.query(positionsDdl);
      await c.query(deadLettersDdl(this.deadLetterTable));
    });
  }

  describe(name: QualifiedName) {
    return this.run((c) => describeMysql(c, name));
  }

  async createTable(name: QualifiedName, columns: Column[], primaryKey: string[]): Promise<void> {
    const defs = columns.map(
      (c) =>
        `${ident(c.name)} ${mysqlType(c.type, primaryKey.includes(c.name))}${primaryKey.includes(c.name) ? " NOT NULL" : ""}`,
    );
    if (primaryKey.length > 0) defs.push(`PRIMARY KEY (${primaryKey.map(ident).join(", ")})`);
    await this.run((c) =>
      c.query(
        `CREATE TABLE IF NOT EXISTS ${qualified(name)} (${defs.join(", ")}) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
      ),
    );
  }

  async addColumns(name: QualifiedName, columns: Column[]): Promise<void> {
    if (columns.length === 0) return;
    const adds = columns.map((c) => `ADD COLUMN IF NOT EXISTS ${ident(c.name)} ${mysqlType(c.type, false)}`);
    await this.run((c) => c.query(`ALTER TABLE ${qualified(name)} ${adds.join(", ")}`));
  }

  readPositions(groupId: string): Promise<Position[]> {
    return this.run((c) => readPositions(c, groupId));
  }

  transaction<T>(work: (tx: TargetTransaction) => Promise<T>): Promise<T> {
    return this.run((c) =>
      inTransaction(
        (sql) => c.query(sql),
        "START TRANSACTION",
        () =>
          work({
            lockPosition: (g, t, p) => lockPosition(c, g, t, p),
            write: (w) => writeMysql(c, w),
            savePositions: (g, p) => savePositions(c, g, p),
            saveDeadLetters: (g, l) => saveDeadLetters(c, this.deadLetterTable, g, l),
          }),
      ),
    );
  }

  async close(): Promise<void> {
    if (this.conn) await this.drop(this.conn);
  }
}
