/**
 * The PostgreSQL target: one session that applies and reconnects after loss. Its transactions run
 * as a replica so ordinary, FK and overlay triggers stay quiet (changes of different tables arrive
 * out of order). The role is set per transaction, never per session: behind a transaction-mode
 * pooler, or the embedded demo's multiplexed PGlite, a session-wide setting would reach other
 * clients and silence the overlay's triggers for the shadow's own writes.
 */
import pg from "pg";
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
import { type CopyPath, writePostgres } from "./apply.ts";
import {
  countDeadLetters,
  deadLettersDdl,
  listOverlays,
  lockPosition,
  maxByteaBytes,
  overlaysDdl,
  positionsDdl,
  readPositions,
  removeDeadLetters,
  saveDeadLetters,
  savePositions,
  storedDeadLetters,
} from "./bookkeeping.ts";
import { checkPrivilegesPostgres } from "./check.ts";
import { defaultCopyThreshold, StagingTables } from "./copy.ts";
import { describePostgres } from "./introspect.ts";
import { diffPostgres } from "./overlay-diff.ts";
import { ensureIdHeadroomPostgres } from "./overlay-ids.ts";
import { installPostgres, uninstallPostgres } from "./overlay-install.ts";
import { resetPostgres } from "./overlay-reset.ts";
import { overlaySizesPostgres } from "./overlay-sizes.ts";
import { writeOverlay } from "./overlay-write.ts";
import {
  alterColumnsPostgres,
  knownColumnsDdl,
  knownColumnsPostgres,
  recordColumnsPostgres,
} from "./schema-follow.ts";
import { seedPostgres, tableLikeDdl } from "./seed-load.ts";
import { ident, qualified } from "./sql.ts";
import { postgresType } from "./types.ts";

const BEGIN_AS_REPLICA = "BEGIN; SET LOCAL session_replication_role = replica";

export interface PostgresTargetOptions {
  /** Upsert groups of at least this many rows are written through COPY (default in copy.ts). */
  copyThreshold?: number;
}

export class PostgresTarget implements Target, SeedTarget {
  readonly dialect = "postgres" as const;
  private client: pg.Client | undefined;
  /** The current client's staging tables: temporary tables end with their connection. */
  private staging = new StagingTables();

  constructor(
    private readonly url: string,
    private readonly deadLetterTable: QualifiedName = { schema: "", name: "shadowdb_dead_letters" },
    private readonly options: PostgresTargetOptions = {},
  ) {}

  private async session(): Promise<pg.Client> {
    if (this.client) return this.client;
    const client = new pg.Client({ connectionString: this.url, application_name: "shadowdb-apply" });
    // A dropped connection surfaces on the next query; until then keep the process alive.
    client.on("error", () => {
      if (this.client === client) this.client = undefined;
    });
    await client.connect();
    await client.query("SET TimeZone = 'UTC'");
    this.client = client;
    this.staging = new StagingTables();
    return client;
  }

  private async run<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
    const client = await this.session();
    try {
      return await work(client);
    } catch (error) {
      if ((error as { code?: unknown }).code === undefined) await this.drop(client);
      throw error;
    }
  }

  private async drop(client: pg.Client): Promise<void> {
    if (this.client === client) this.client = undefined;
    await client.end().catch(() => undefined);
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
    return this.run((c) => knownColumnsPostgres(c, name));
  }

  recordColumns(name: QualifiedName, columns: KnownColumn[]) {
    return this.run((c) => recordColumnsPostgres(c, name, columns));
  }

  alterColumns(name: QualifiedName, changes: ColumnChange[], copy?: QualifiedName) {
    return this.run((c) => alterColumnsPostgres(c, name, changes, copy));
  }

  /** `work` in one transaction of the apply session, outside the materializer's transactions. */
  private ownTransaction<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
    return this.run((c) =>
      inTransaction(
        (sql) => c.query(sql),
        BEGIN_AS_REPLICA,
        () => work(c),
      ),
    );
  }

  installOverlay(names: OverlayNames): Promise<void> {
    return this.ownTransaction((c) => installPostgres(c, names));
  }

  listOverlays(): Promise<QualifiedName[]> {
    return this.run((c) => listOverlays(c));
  }

  uninstallOverlay(names: OverlayNames): Promise<void> {
    return this.ownTransaction((c) => uninstallPostgres(c, names));
  }

  resetOverlay(names: OverlayNames, keys?: Record<string, Value>[]): Promise<number> {
    return this.ownTransaction((c) => resetPostgres(c, names, keys));
  }

  /** Outside a transaction: reads that do not hold apply up, and setval is not transactional. */
  ensureIdHeadroom(names: OverlayNames, headroom: bigint): Promise<IdHeadroom[]> {
    return this.run((c) => ensureIdHeadroomPostgres(c, names, headroom));
  }

  diffOverlay(names: OverlayNames, ignore: string[]): Promise<TableDiff> {
    return this.run((c) => diffPostgres(c, names, ignore));
  }

  describe(name: QualifiedName) {
    return this.run((c) => describePostgres(c, name));
  }

  /** On the apply session, in a transaction of its own that is rolled back. */
  checkPrivileges(): Promise<PrivilegeCheck[]> {
    return this.run((c) => checkPrivilegesPostgres(c));
  }

  overlaySizes(names: OverlayNames): Promise<OverlaySize> {
    return this.run((c) => overlaySizesPostgres(c, names));
  }

  countDeadLetters(groupId: string): Promise<number> {
    return this.run((c) => countDeadLetters(c, this.deadLetterTable, groupId));
  }

  async createTable(name: QualifiedName, columns: Column[], primaryKey: string[]): Promise<void> {
    const defs = columns.map(
      (c) => `${ident(c.name)} ${postgresType(c.type)}${primaryKey.includes(c.name) ? " NOT NULL" : ""}`,
    );
    if (primaryKey.length > 0) defs.push(`PRIMARY KEY (${primaryKey.map(ident).join(", ")})`);
    await this.run(async (c) => {
      await c.query(`CREATE SCHEMA IF NOT EXISTS ${ident(name.schema)}`);
      await c.query(`CREATE TABLE IF NOT EXISTS ${qualified(name)} (${defs.join(", ")})`);
    });
  }

  async createTableLike(name: QualifiedName, shape: TableShape): Promise<void> {
    await this.run(async (c) => {
      for (const sql of tableLikeDdl(name, shape)) await c.query(sql);
    });
  }

  seed(load: SeedLoad): Promise<number> {
    return this.ownTransaction((c) => seedPostgres(c, load));
  }

  async addColumns(name: QualifiedName, columns: Column[]): Promise<void> {
    if (columns.length === 0) return;
    const adds = columns.map((c) => `ADD COLUMN IF NOT EXISTS ${ident(c.name)} ${postgresType(c.type)}`);
    await this.run((c) => c.query(`ALTER TABLE ${qualified(name)} ${adds.join(", ")}`));
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

  letterTooLarge(_groupId: string, letter: DeadLetter): string | undefined {
    const largest = Math.max(letter.key?.length ?? 0, letter.value?.length ?? 0);
    if (largest <= maxByteaBytes) return undefined;
    return `a value of ${largest} bytes, PostgreSQL's bytea holds at most ${maxByteaBytes}`;
  }

  transaction<T>(work: (tx: TargetTransaction) => Promise<T>): Promise<T> {
    return this.run(async (c) => {
      const copy: CopyPath = {
        threshold: this.options.copyThreshold ?? defaultCopyThreshold,
        staging: this.staging,
      };
      try {
        const result = await inTransaction(
          (sql) => c.query(sql),
          BEGIN_AS_REPLICA,
          () =>
            work({
              lockPosition: (g, t, p) => lockPosition(c, g, t, p),
              write: (w) => {
                assertStoredAsSent(w, "postgres");
                return w.overlay ? writeOverlay(c, w, copy) : writePostgres(c, w, copy);
              },
              savePositions: (g, p) => savePositions(c, g, p),
              saveDeadLetters: (g, l) => saveDeadLetters(c, this.deadLetterTable, g, l),
              savepoint: (w) => underSavepoint((sql) => c.query(sql), w),
            }),
        );
        copy.staging.settle(true);
        return result;
      } catch (error) {
        copy.staging.settle(false);
        throw error;
      }
    });
  }

  async close(): Promise<void> {
    if (this.client) await this.drop(this.client);
  }
}
