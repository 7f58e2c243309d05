/**
 * The MySQL/MariaDB target: one session that applies, marked with @shadowdb_apply (the overlay
 * triggers test it), with FK checks off (changes of different tables arrive out of order), UTC,
 * READ COMMITTED; it reconnects after loss. The overlay's commands (install, uninstall, reset,
 * diff, the id headroom check) each open a short-lived session marked the same way, so they can run while apply goes on
 * (an HTTP reset during `run`) without sharing its connection; reset and apply serialise per
 * table on the overlay registry's row.
 */
import mysql from "mysql2/promise";
import type { Column } from "../../decode/index.ts";
import type { Value } from "../../decode/values.ts";
import type {
  ColumnChange,
  DeadLetter,
  IdHeadroom,
  KnownColumn,
  OverlayNames,
  OverlaySize,
  Position,
  PrivilegeCheck,
  QualifiedName,
  SeedLoad,
  SeedTarget,
  TableDiff,
  TableShape,
  Target,
  TargetTransaction,
} from "../dialect.ts";
import { assertStoredAsSent } from "../fit.ts";
import { inTransaction, underSavepoint } from "../transaction.ts";
import { writeMysql } from "./apply.ts";
import {
  countDeadLetters,
  deadLettersDdl,
  letterStatementBytes,
  listOverlays,
  lockPosition,
  overlaysDdl,
  positionsDdl,
  readPositions,
  removeDeadLetters,
  saveDeadLetters,
  savePositions,
  storedDeadLetters,
} from "./bookkeeping.ts";
import { checkPrivilegesMysql } from "./check.ts";
import { classifyMysql } from "./errors.ts";
import { columnDefinitions, describeMysql } from "./introspect.ts";
import { diffOverlay } from "./overlay-diff.ts";
import { ensureIdHeadroom } from "./overlay-ids.ts";
import { installOverlay, uninstallOverlay } from "./overlay-install.ts";
import { resetOverlay } from "./overlay-reset.ts";
import { overlaySizesMysql } from "./overlay-sizes.ts";
import { writeOverlay } from "./overlay-write.ts";
import {
  alterColumnsMysql,
  knownColumnsDdl,
  knownColumnsMysql,
  recordColumnsMysql,
} from "./schema-follow.ts";
import { seedMysql, tableLikeDdl } from "./seed-load.ts";
import { ident, qualified } from "./sql.ts";
import { mysqlType } from "./types.ts";

export class MysqlTarget implements Target, SeedTarget {
  readonly dialect = "mysql" as const;
  private conn: mysql.Connection | undefined;
  /** The server's max_allowed_packet, as the latest session read it: a letter's INSERT must fit. */
  private maxPacket: number | undefined;

  constructor(
    private readonly url: string,
    private readonly deadLetterTable: QualifiedName = { schema: "", name: "shadowdb_dead_letters" },
  ) {}

  /** A new session marked as shadowdb's own: the overlay triggers skip it. */
  private async connect(): Promise<mysql.Connection> {
    const conn = await mysql.createConnection({
      uri: this.url.replace(/^mariadb:/, "mysql:"),
      supportBigNumbers: true,
      bigNumberStrings: true,
      dateStrings: true,
      multipleStatements: false,
    });
    try {
      await conn.query("SET SESSION foreign_key_checks = 0");
      await conn.query("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED");
      await conn.query("SET time_zone = '+00:00'");
      await conn.query("SET @shadowdb_apply = 1");
      const [rows] = await conn.query("SELECT @@max_allowed_packet AS max_packet");
      this.maxPacket = Number((rows as { max_packet: number | string }[])[0]!.max_packet);
    } catch (error) {
      conn.destroy();
      throw error;
    }
    return conn;
  }

  private async session(): Promise<mysql.Connection> {
    if (this.conn) return this.conn;
    const conn = await this.connect();
    conn.on("error", () => {
      if (this.conn === conn) this.conn = undefined;
    });
    this.conn = conn;
    return conn;
  }

  /** Runs `work` on a session of its own, closed afterwards. */
  private async aside<T>(work: (conn: mysql.Connection) => Promise<T>): Promise<T> {
    const conn = await this.connect();
    conn.on("error", () => undefined);
    try {
      return await work(conn);
    } finally {
      await conn.end().catch(() => conn.destroy());
    }
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
      await c.query(overlaysDdl);
      await c.query(knownColumnsDdl);
    });
  }

  knownColumns(name: QualifiedName) {
    return this.run((c) => knownColumnsMysql(c, name));
  }

  recordColumns(name: QualifiedName, columns: KnownColumn[]) {
    return this.run((c) => recordColumnsMysql(c, name, columns));
  }

  alterColumns(name: QualifiedName, changes: ColumnChange[], copy?: QualifiedName) {
    return this.run((c) => alterColumnsMysql(c, name, changes, copy));
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
    await this.run(async (c) => {
      // MySQL 8 has no ADD COLUMN IF NOT EXISTS (MariaDB has): the catalogue tells what is there.
      const present = new Set((await columnDefinitions(c, name)).map((d) => d.name));
      const adds = columns
        .filter((d) => !present.has(d.name))
        .map((d) => `ADD COLUMN ${ident(d.name)} ${mysqlType(d.type, false)}`);
      if (adds.length > 0) await c.query(`ALTER TABLE ${qualified(name)} ${adds.join(", ")}`);
    });
  }

  async createTableLike(name: QualifiedName, shape: TableShape): Promise<void> {
    await this.run(async (c) => {
      for (const sql of tableLikeDdl(name, shape)) await c.query(sql);
    });
  }

  seed(load: SeedLoad): Promise<number> {
    return this.run(async (c) => {
      // The apply session reads committed; under REPEATABLE READ, seedMysql's locking read of the
      // empty table also locks the gap, which keeps a concurrent seed out until this one ends.
      await c.query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ");
      return inTransaction(
        (sql) => c.query(sql),
        "START TRANSACTION",
        () => seedMysql(c, load),
      );
    });
  }

  readPositions(groupId: string): Promise<Position[]> {
    return this.run((c) => readPositions(c, groupId));
  }

  storedDeadLetters(groupId: string, limit: number) {
    return this.run((c) => storedDeadLetters(c, this.deadLetterTable, groupId, limit));
  }

  removeDeadLetters(ids: string[]): Promise<void> {
    return this.run((c) => removeDeadLetters(c, this.deadLetterTable, ids));
  }

  letterTooLarge(groupId: string, letter: DeadLetter): string | undefined {
    // Unknown before the first session: prepare() opens one before anything is applied.
    if (this.maxPacket === undefined) return undefined;
    const bytes = letterStatementBytes(groupId, letter);
    if (bytes <= this.maxPacket) return undefined;
    return `its INSERT takes about ${bytes} bytes, the server's max_allowed_packet is ${this.maxPacket}`;
  }

  transaction<T>(work: (tx: TargetTransaction) => Promise<T>): Promise<T> {
    return this.run((c) =>
      inTransaction(
        (sql) => c.query(sql),
        "START TRANSACTION",
        () =>
          work({
            lockPosition: (g, t, p) => lockPosition(c, g, t, p),
            write: (w) => {
              assertStoredAsSent(w, "mysql");
              return w.overlay ? writeOverlay(c, w) : writeMysql(c, w);
            },
            savePositions: (g, p) => savePositions(c, g, p),
            saveDeadLetters: (g, l) => saveDeadLetters(c, this.deadLetterTable, g, l),
            savepoint: (w) => underSavepoint((sql) => c.query(sql), w),
          }),
      ),
    );
  }

  installOverlay(names: OverlayNames): Promise<void> {
    return this.aside((c) => installOverlay(c, names));
  }

  listOverlays(): Promise<QualifiedName[]> {
    return this.aside((c) => listOverlays(c));
  }

  uninstallOverlay(names: OverlayNames): Promise<void> {
    return this.aside((c) => uninstallOverlay(c, names));
  }

  resetOverlay(names: OverlayNames, keys?: Record<string, Value>[]): Promise<number> {
    return this.aside((c) => resetOverlay(c, names, keys));
  }

  /** On a session of its own: its ALTER TABLE commits, and waits for the table's metadata lock. */
  ensureIdHeadroom(names: OverlayNames, headroom: bigint): Promise<IdHeadroom[]> {
    return this.aside((c) => ensureIdHeadroom(c, names, headroom));
  }

  diffOverlay(names: OverlayNames, ignore: string[]): Promise<TableDiff> {
    return this.aside((c) => diffOverlay(c, names, ignore));
  }

  /** On a session of its own: its DDL commits, and it re-runs the apply session's settings. */
  checkPrivileges(): Promise<PrivilegeCheck[]> {
    return this.aside((c) => checkPrivilegesMysql(c));
  }

  overlaySizes(names: OverlayNames): Promise<OverlaySize> {
    return this.aside((c) => overlaySizesMysql(c, names));
  }

  countDeadLetters(groupId: string): Promise<number> {
    return this.run((c) => countDeadLetters(c, this.deadLetterTable, groupId));
  }

  async close(): Promise<void> {
    if (this.conn) await this.drop(this.conn);
  }
}
