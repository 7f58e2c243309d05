/**
 * Keys of a write matched in SQL by their position (`WITH ORDINALITY`), so that no key value ever
 * has to be compared in JS.
 */
import type pg from "pg";
import type { OverlayNames, TableWrite } from "../dialect.ts";
import { keyArrays, type Row } from "./apply.ts";
import { ident, qualified } from "./sql.ts";

/** `unnest(…) WITH ORDINALITY AS u(k0, k1, …, ord)` and `<alias>.key = u.kN AND …`. */
export function keyRelation(write: TableWrite, rows: Row[], first = 1) {
  const key = write.table.primaryKey;
  const { unnest, params } = keyArrays(write, rows, first);
  const names = key.map((_, i) => `k${i}`);
  return {
    from: `${unnest} WITH ORDINALITY AS u(${names.join(", ")}, ord)`,
    params,
    matches: (alias: string) => key.map((k, i) => `${alias}.${ident(k)} = u.${names[i]}`).join(" AND "),
  };
}

/** Positions (0-based) in `rows` of the keys that the query's join keeps. */
export async function positions(client: pg.ClientBase, sql: string, params: unknown[]): Promise<Set<number>> {
  const { rows } = await client.query<{ ord: string }>(sql, params);
  return new Set(rows.map((r) => Number(r.ord) - 1));
}

/** Steps 3 and 5: the positions of `rows` whose keys are owned, as a new statement sees them. */
export async function ownedPositions(
  client: pg.ClientBase,
  write: TableWrite,
  names: OverlayNames,
  rows: Row[],
): Promise<Set<number>> {
  if (rows.length === 0) return new Set();
  const k = keyRelation(write, rows);
  return positions(
    client,
    `SELECT u.ord FROM ${k.from} WHERE EXISTS (SELECT 1 FROM ${qualified(names.owned)} o WHERE ${k.matches("o")})`,
    k.params,
  );
}
