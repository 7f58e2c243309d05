/**
 * Diff on PostgreSQL: every owned key, production's version (its copy row, or none) against the
 * shadow's (the table's row, or none), in one statement (one snapshot), ordered by key. Values are
 * compared and reported as PostgreSQL renders them as text (`col::text`, in the apply session's
 * settings: TimeZone UTC). A key owned with how 'c' whose row the shadow does not have is a
 * production row hidden by a unique conflict: listed as "hidden" with production's row (once the
 * shadow writes a row under that key, it compares like any other).
 */
import type pg from "pg";
import { ShadowdbError } from "../../errors.ts";
import type { OverlayNames, RowDiff, TableDiff } from "../dialect.ts";
import { lockOverlay } from "./bookkeeping.ts";
import { describePostgres } from "./introspect.ts";
import { ident, qualified } from "./sql.ts";

type Cells = Record<string, string | null>;

export async function diffPostgres(
  client: pg.ClientBase,
  names: OverlayNames,
  ignore: string[],
): Promise<TableDiff> {
  await lockOverlay(client, names.table, null);
  const shape = await describePostgres(client, names.table);
  const copyShape = await describePostgres(client, names.copy);
  if (!shape || !copyShape)
    throw new ShadowdbError("OVERLAY_NOT_INSTALLED", `${names.table.name} or its copy is missing`);
  const key = shape.primaryKey;
  // The shadow's row has the table's columns; production's those the copy also has (a column the
  // shadow's migration added has no production value, one it dropped no shadow value).
  const shadowColumns = [...shape.columns.keys()];
  const productionColumns = shadowColumns.filter((c) => copyShape.columns.has(c));
  const compared = productionColumns.filter((c) => !ignore.includes(c) && !key.includes(c));
  const on = (alias: string) => key.map((k) => `${alias}.${ident(k)} = o.${ident(k)}`).join(" AND ");
  const text = (alias: string, columns: string[]) => columns.map((c) => `${alias}.${ident(c)}::text`);
  const { rows } = await client.query<(string | boolean | null)[]>({
    text: `SELECT c.${ident(key[0]!)} IS NOT NULL, t.${ident(key[0]!)} IS NOT NULL, o.how = 'c',
                  ${[...text("o", key), ...text("c", productionColumns), ...text("t", shadowColumns)].join(", ")}
             FROM ${qualified(names.owned)} o
             LEFT JOIN ${qualified(names.copy)} c ON ${on("c")}
             LEFT JOIN ${qualified(names.table)} t ON ${on("t")}
            ORDER BY ${key.map((k) => `o.${ident(k)}`).join(", ")}`,
    rowMode: "array",
  });
  const diffs: RowDiff[] = [];
  for (const row of rows) {
    const [inProduction, inShadow, hidden] = row as [boolean, boolean, boolean];
    let at = 3;
    const cells = (columns: string[]): Cells =>
      Object.fromEntries(columns.map((c) => [c, row[at++] as string | null]));
    const keyCells = cells(key);
    const production = cells(productionColumns);
    const shadow = cells(shadowColumns);
    if (inShadow && !inProduction) diffs.push({ kind: "inserted", key: keyCells, shadow });
    else if (inProduction && !inShadow)
      diffs.push({ kind: hidden ? "hidden" : "deleted", key: keyCells, production });
    else if (inProduction && inShadow) {
      const changed = compared
        .filter((c) => production[c] !== shadow[c])
        .map((column) => ({
          column,
          production: production[column] ?? null,
          shadow: shadow[column] ?? null,
        }));
      if (changed.length > 0) diffs.push({ kind: "updated", key: keyCells, production, shadow, changed });
    }
  }
  return { table: names.table, owned: rows.length, rows: diffs };
}
