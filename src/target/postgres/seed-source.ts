/**
 * Production as `shadowdb seed` reads it: one REPEATABLE READ READ ONLY transaction, so every
 * table comes from the same instant, and rows leave as COPY text, which the target's COPY takes
 * as is. The session settings fix the text forms (UTC, ISO dates, every float digit, hex bytea)
 * so that what the target parses is exactly the source's value.
 */
import { PassThrough } from "node:stream";
import pg from "pg";
import { to as copyTo } from "pg-copy-streams";
import type { QualifiedName, SeedSource, TableShape } from "../dialect.ts";
import { seedSourceError } from "../seed-source-error.ts";
import { describePostgres } from "./introspect.ts";
import { ident, qualified } from "./sql.ts";

const EXACT_TEXT = [
  "SET TimeZone = 'UTC'",
  "SET DateStyle = 'ISO, YMD'",
  "SET IntervalStyle = 'postgres'",
  "SET extra_float_digits = 3",
  "SET bytea_output = 'hex'",
];

export class PostgresSeedSource implements SeedSource {
  private client: pg.Client | undefined;

  constructor(private readonly url: string) {}

  private async session(): Promise<pg.Client> {
    if (this.client) return this.client;
    const client = new pg.Client({ connectionString: this.url, application_name: "shadowdb-seed" });
    client.on("error", () => undefined);
    try {
      await client.connect();
      for (const sql of EXACT_TEXT) await client.query(sql);
    } catch (error) {
      await client.end().catch(() => undefined);
      throw seedSourceError(error, "connecting to the seed source");
    }
    this.client = client;
    return client;
  }

  async captureProblem(): Promise<string | undefined> {
    const client = await this.session();
    const { rows } = await client
      .query<{ name: string; slot: boolean }>(
        `SELECT current_database() AS name, EXISTS (SELECT FROM pg_replication_slots
          WHERE slot_type = 'logical' AND database = current_database()) AS slot`,
      )
      .catch((error: unknown) => {
        throw seedSourceError(error, "reading pg_replication_slots");
      });
    if (rows[0]?.slot) return undefined;
    return `database ${rows[0]?.name} has no logical replication slot, so nothing keeps the changes committed while the seed runs; start the Debezium connector first (snapshot.mode=no_data is enough)`;
  }

  async begin(): Promise<void> {
    const client = await this.session();
    try {
      await client.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
      // PostgreSQL takes the transaction's snapshot at its first statement, not at BEGIN.
      await client.query("SELECT 1");
    } catch (error) {
      throw seedSourceError(error, "opening the seed snapshot");
    }
  }

  async describe(name: QualifiedName): Promise<TableShape | undefined> {
    const client = await this.session();
    return describePostgres(client, name).catch((error: unknown) => {
      throw seedSourceError(error, `describing ${name.schema}.${name.name}`);
    });
  }

  rows(name: QualifiedName, columns: string[]): NodeJS.ReadableStream {
    const out = new PassThrough();
    this.session().then(
      (client) => {
        const copy = client.query(
          copyTo(`COPY ${qualified(name)} (${columns.map(ident).join(", ")}) TO STDOUT`),
        );
        copy.on("error", (error) =>
          out.destroy(seedSourceError(error, `reading ${name.schema}.${name.name}`)),
        );
        copy.pipe(out);
      },
      (error: unknown) => out.destroy(seedSourceError(error, "connecting to the seed source")),
    );
    return out;
  }

  async close(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    if (!client) return;
    // Read only: ending the transaction either way changes nothing in production.
    await client.query("ROLLBACK").catch(() => undefined);
    await client.end().catch(() => undefined);
  }
}
