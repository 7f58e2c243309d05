/**
 * The PostgreSQL target: one session that applies (marked as a replica so ordinary and FK
 * triggers stay quiet: changes of different tables arrive out of order) and reconnects after loss.
 */
import pg from "pg";
import type { Column } from "../../decode/index.ts";
import type { Position, QualifiedName, Target, TargetTransaction } from "../dialect.ts";
import { inTransaction } from "../transaction.ts";
import { writePostgres } from "./apply.ts";
import {
  deadLettersDdl,
  lockPosition,
  positionsDdl,
  readPositions,
  saveDeadLetters,
  savePositions,
} from "./bookkeeping.ts";
import { describePostgres } from "./introspect.ts";
import { ident, qualified } from "./sql.ts";
import { postgresType } from "./types.ts";

export class PostgresTarget implements Target {
  readonly dialect = "postgres" as const;
  private client: pg.Client | undefined;

  constructor(
    private readonly url: string,
    private readonly deadLetterTable: QualifiedName = { schema: "", name: "shadowdb_dead_letters" },
  ) {}

  private async session(): Promise<pg.Client> {
    if (this.client) return this.client;
    const client = new pg.Client({ connectionString: this.url, application_name: "shadowdb-apply" });
    // A dropped connection surfaces on the next query; until then keep the process alive.
    client.on("error", () => {
      if (this.client === client) this.client = undefined;
    });
    await client.connect();
    await client.query("SET session_replication_role = replica");
    await client.query("SET TimeZone = 'UTC'");
    this.client = client;
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
    });
  }

  describe(name: QualifiedName) {
    return this.run((c) => describePostgres(c, name));
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

  async addColumns(name: QualifiedName, columns: Column[]): Promise<void> {
    if (columns.length === 0) return;
    const adds = columns.map((c) => `ADD COLUMN IF NOT EXISTS ${ident(c.name)} ${postgresType(c.type)}`);
    await this.run((c) => c.query(`ALTER TABLE ${qualified(name)} ${adds.join(", ")}`));
  }

  readPositions(groupId: string): Promise<Position[]> {
    return this.run((c) => readPositions(c, groupId));
  }

  transaction<T>(work: (tx: TargetTransaction) => Promise<T>): Promise<T> {
    return this.run((c) =>
      inTransaction(
        (sql) => c.query(sql),
        "BEGIN",
        () =>
          work({
            lockPosition: (g, t, p) => lockPosition(c, g, t, p),
            write: (w) => writePostgres(c, w),
            savePositions: (g, p) => savePositions(c, g, p),
            saveDeadLetters: (g, l) => saveDeadLetters(c, this.deadLetterTable, g, l),
          }),
      ),
    );
  }

  async close(): Promise<void> {
    if (this.client) await this.drop(this.client);
  }
}
