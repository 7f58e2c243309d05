/**
 * Keys and rows for `shadowdb resync`: the shadow table's keys in key order, page by page, which
 * of them production's table still has, and production's rows for `--direct`. Values travel as
 * text and are cast back to the column's type on the other side, so that equality is the type's.
 */
import pg from "pg";
import type { Value } from "../../decode/values.ts";
import type { KeyReader, QualifiedName, TableShape } from "../dialect.ts";
import { describePostgres } from "./introspect.ts";
import { castType, ident, qualified } from "./sql.ts";

export class PostgresKeyReader implements KeyReader {
  private client: pg.Client | undefined;

  constructor(private readonly url: string) {}

  private async session(): Promise<pg.Client> {
    if (this.client) return this.client;
    const client = new pg.Client({ connectionString: this.url, application_name: "shadowdb-resync" });
    client.on("error", () => undefined);
    await client.connect();
    // Text forms that cast back to the same value whatever the server's defaults.
    for (const sql of ["SET TimeZone = 'UTC'", "SET DateStyle = 'ISO, YMD'", "SET extra_float_digits = 3"])
      await client.query(sql);
    this.client = client;
    return client;
  }

  async describe(name: QualifiedName): Promise<TableShape | undefined> {
    return describePostgres(await this.session(), name);
  }

  async keys(table: TableShape, after: string[] | undefined, limit: number): Promise<string[][]> {
    const key = table.primaryKey;
    // Qualified: a bare name in ORDER BY would mean the output column, the key's text.
    const columns = key.map((k) => `t.${ident(k)}`);
    const casts = key.map((k, i) => `$${i + 1}::${castType(table.columns.get(k)!.sqlType)}`);
    const where = after === undefined ? "" : `WHERE (${columns.join(", ")}) > (${casts.join(", ")})`;
    const { rows } = await (await this.session()).query<string[]>({
      text: `SELECT ${columns.map((c) => `${c}::text`).join(", ")} FROM ${qualified(table.name)} t
        ${where} ORDER BY ${columns.join(", ")} LIMIT ${Math.trunc(limit)}`,
      values: after ?? [],
      rowMode: "array",
    });
    return rows;
  }

  async present(table: TableShape, keys: string[][]): Promise<Set<number>> {
    const key = table.primaryKey;
    const arrays = key.map((k, i) => `$${i + 1}::${castType(table.columns.get(k)!.sqlType)}[]`);
    const aliases = key.map((_, i) => `k${i}`);
    const { rows } = await (await this.session()).query<{ i: string }>(
      `SELECT u.i::text AS i FROM unnest(${arrays.join(", ")}) WITH ORDINALITY AS u(${aliases.join(", ")}, i)
        WHERE EXISTS (SELECT FROM ${qualified(table.name)} t
                       WHERE ${key.map((k, i) => `t.${ident(k)} = u.${aliases[i]}`).join(" AND ")})`,
      key.map((_, c) => keys.map((k) => k[c])),
    );
    return new Set(rows.map((r) => Number(r.i) - 1));
  }

  /** Every value as text: the target's write casts a parameter to its column's type. */
  async rows(
    table: TableShape,
    columns: string[],
    after: string[] | undefined,
    limit: number,
  ): Promise<{ key: string[]; values: Value[] }[]> {
    const key = table.primaryKey;
    // Qualified: a bare name in ORDER BY would mean the output column, the key's text.
    const keys = key.map((k) => `t.${ident(k)}`);
    const casts = key.map((k, i) => `$${i + 1}::${castType(table.columns.get(k)!.sqlType)}`);
    const where = after === undefined ? "" : `WHERE (${keys.join(", ")}) > (${casts.join(", ")})`;
    const { rows } = await (await this.session()).query<(string | null)[]>({
      text: `SELECT ${[...key, ...columns].map((c) => `t.${ident(c)}::text`).join(", ")} FROM ${qualified(table.name)} t
        ${where} ORDER BY ${keys.join(", ")} LIMIT ${Math.trunc(limit)}`,
      values: after ?? [],
      rowMode: "array",
    });
    return rows.map((r) => ({ key: r.slice(0, key.length) as string[], values: r.slice(key.length) }));
  }

  async close(): Promise<void> {
    await this.client?.end().catch(() => undefined);
    this.client = undefined;
  }
}
