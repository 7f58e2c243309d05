/**
 * The target side of `shadowdb seed`: COPY the source's text into an empty table and store the
 * positions the stream goes on from, in one transaction of the apply session (as a replica: the
 * overlay's triggers stay quiet, as for any apply).
 */
import { pipeline } from "node:stream/promises";
import type pg from "pg";
import { from as copyFrom } from "pg-copy-streams";
import { ShadowdbError } from "../../errors.ts";
import type { QualifiedName, SeedLoad, TableShape } from "../dialect.ts";
import { savePositions } from "./bookkeeping.ts";
import { ident, qualified } from "./sql.ts";

/**
 * The DDL of a table shaped like the source's. Types are the source catalog's own format_type
 * text (quoted by PostgreSQL where needed), never text from an event.
 */
export function tableLikeDdl(name: QualifiedName, shape: TableShape): string[] {
  const defs = [...shape.columns.values()].map(
    (c) => `${ident(c.name)} ${c.sqlType}${c.nullable ? "" : " NOT NULL"}`,
  );
  if (shape.primaryKey.length > 0) defs.push(`PRIMARY KEY (${shape.primaryKey.map(ident).join(", ")})`);
  return [
    `CREATE SCHEMA IF NOT EXISTS ${ident(name.schema)}`,
    `CREATE TABLE IF NOT EXISTS ${qualified(name)} (${defs.join(", ")})`,
  ];
}

export async function seedPostgres(client: pg.ClientBase, load: SeedLoad): Promise<number> {
  const table = qualified(load.table);
  // Locks out a concurrent seed of the same table; apply writes wait too, and find it loaded.
  await client.query(`LOCK TABLE ${table} IN SHARE ROW EXCLUSIVE MODE`);
  const { rows } = await client.query<{ found: boolean }>(`SELECT EXISTS (SELECT FROM ${table}) AS found`);
  if (rows[0]?.found)
    throw new ShadowdbError(
      "SEED_NOT_EMPTY",
      `${load.table.schema}.${load.table.name} already has rows; seed loads empty tables only (empty it, or let the connector's snapshot fill it)`,
    );
  const copy = client.query(copyFrom(`COPY ${table} (${load.columns.map(ident).join(", ")}) FROM STDIN`));
  await pipeline(load.rows, copy);
  await savePositions(client, load.groupId, load.positions);
  return copy.rowCount;
}
