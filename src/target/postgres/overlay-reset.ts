/**
 * Reset on PostgreSQL: owned rows take production's version (the copy, kept current by apply)
 * and stop being owned. One transaction on the apply session, so the triggers do not see it:
 * 1. lock the table's registry row exclusively (apply holds it shared: they serialise per table);
 * 2. lock the table against writes (SHARE ROW EXCLUSIVE: reads go on, shadow writes wait), so
 *    that no shadow write can own a key or insert under a key being reset while it runs;
 * 3. lock the owned keys to reset (all, or those of `keys` that are owned) and count them;
 * 4. delete those keys from the table, insert their copy rows, delete them from copy and owned.
 *
 * Hidden rows (how 'c': production rows kept aside by a unique conflict with an overlay row) come
 * back like any other: every reset key's table row is deleted before any copy row goes in, so
 * the overlay row that blocked a hidden row is out of the way when both are reset (resetting all
 * always is). Resetting a hidden key while the row that blocks it stays owned cannot succeed: the
 * database's unique violation is thrown as TARGET_CONSTRAINT, and nothing is reset.
 */
import type pg from "pg";
import type { Value } from "../../decode/values.ts";
import { ShadowdbError } from "../../errors.ts";
import type { OverlayNames, TableShape, TableWrite } from "../dialect.ts";
import { keyArrays } from "./apply.ts";
import { lockOverlay } from "./bookkeeping.ts";
import { describePostgres } from "./introspect.ts";
import { ident, qualified } from "./sql.ts";

/** Columns PostgreSQL computes (GENERATED ALWAYS AS … STORED): an insert may not name them. */
async function generatedColumns(client: pg.ClientBase, shape: TableShape): Promise<Set<string>> {
  const { rows } = await client.query<{ attname: string }>(
    `SELECT attname FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 AND attgenerated <> ''`,
    [qualified(shape.name)],
  );
  return new Set(rows.map((r) => r.attname));
}

function keyParams(shape: TableShape, keys: Record<string, Value>[]) {
  for (const key of keys)
    for (const k of shape.primaryKey)
      if (!(k in key))
        throw new ShadowdbError(
          "USAGE_INVALID",
          `a key of ${shape.name.name} needs every key column (${shape.primaryKey.join(", ")}); ${k} is missing`,
        );
  const write: TableWrite = { table: shape, types: {}, upserts: [], deletes: [], truncate: false };
  return keyArrays(write, keys);
}

export async function resetPostgres(
  client: pg.ClientBase,
  names: OverlayNames,
  keys?: Record<string, Value>[],
): Promise<number> {
  await lockOverlay(client, names.table, "UPDATE");
  const shape = await describePostgres(client, names.table);
  const copyShape = await describePostgres(client, names.copy);
  if (!shape || !copyShape)
    throw new ShadowdbError("OVERLAY_NOT_INSTALLED", `${names.table.name} or its copy is missing`);
  if (keys?.length === 0) return 0;
  const table = qualified(names.table);
  const owned = qualified(names.owned);
  const copy = qualified(names.copy);
  const key = shape.primaryKey.map(ident);
  const ownedKey = key.map((k) => `o.${k}`).join(", ");
  const match = (alias: string) => key.map((k) => `${alias}.${k} = o.${k}`).join(" AND ");

  let filter = "true";
  let params: unknown[] = [];
  if (keys) {
    const given = keyParams(shape, keys);
    filter = `(${ownedKey}) IN (SELECT * FROM ${given.unnest})`;
    params = given.params;
  }

  await client.query(`LOCK TABLE ${table} IN SHARE ROW EXCLUSIVE MODE`);
  const { rowCount } = await client.query(
    `SELECT 1 FROM ${owned} o WHERE ${filter} ORDER BY ${ownedKey} FOR UPDATE`,
    params,
  );
  const count = rowCount ?? 0;
  if (count === 0) return 0;

  await client.query(`DELETE FROM ${table} t USING ${owned} o WHERE ${match("t")} AND ${filter}`, params);
  const generated = await generatedColumns(client, shape);
  const columns = [...shape.columns.keys()].filter((c) => copyShape.columns.has(c) && !generated.has(c));
  const list = columns.map(ident).join(", ");
  await client
    .query(
      `INSERT INTO ${table} (${list}) OVERRIDING SYSTEM VALUE
       SELECT ${columns.map((c) => `c.${ident(c)}`).join(", ")} FROM ${copy} c JOIN ${owned} o ON ${match("c")}
        WHERE ${filter}`,
      params,
    )
    .catch((error: unknown) => {
      if ((error as { code?: unknown }).code !== "23505") throw error;
      const constraint = (error as { constraint?: string }).constraint;
      throw new ShadowdbError(
        "TARGET_CONSTRAINT",
        `${names.table.name}: production's version of a key being reset collides on ${constraint} with a ` +
          `row whose key stays owned (${(error as Error).message}); reset that key too, or the whole table`,
        { cause: error },
      );
    });
  await client.query(`DELETE FROM ${copy} c USING ${owned} o WHERE ${match("c")} AND ${filter}`, params);
  await client.query(`DELETE FROM ${owned} o WHERE ${filter}`, params);
  return count;
}
