/**
 * The overlay against production, per owned key: production's version is its copy row (or none),
 * the shadow's is the table's row (or none). One statement, so one consistent snapshot. Values
 * as MySQL renders them as text: CAST(… AS CHAR), binary strings as hex, BIT as binary digits,
 * spatial values as WKT; timestamps in the session's zone (UTC).
 *
 * A key owned with how 'c' whose row production has and the table has not is "hidden": a
 * production row kept aside by a unique conflict with an overlay row (overlay-hide.ts). Once the
 * shadow writes a row under that key too, it compares like any other owned key.
 */
import type mysql from "mysql2/promise";
import { ShadowdbError } from "../../errors.ts";
import type { OverlayNames, RowDiff, TableDiff } from "../dialect.ts";
import { type ColumnDefinition, columnDefinitions } from "./introspect.ts";
import { overlaidTable } from "./overlay-install.ts";
import { ident, matches, qualified } from "./sql.ts";

const binary = new Set(["binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob"]);
const spatial = new Set([
  "geometry",
  "point",
  "linestring",
  "polygon",
  "multipoint",
  "multilinestring",
  "multipolygon",
  "geometrycollection",
  "geomcollection",
]);

/** The text of a column's value, as the database renders it. */
export function asText(alias: string, column: ColumnDefinition): string {
  const value = `${alias}.${ident(column.name)}`;
  if (binary.has(column.dataType)) return `HEX(${value})`;
  if (column.dataType === "bit") return `BIN(${value})`;
  if (spatial.has(column.dataType)) return `ST_AsText(${value})`;
  return `CAST(${value} AS CHAR)`;
}

type Cell = string | null;

export async function diffOverlay(
  conn: mysql.Connection,
  names: OverlayNames,
  ignore: string[],
): Promise<TableDiff> {
  const { columns: tableColumns, key } = await overlaidTable(conn, names.table);
  const kept = new Set((await columnDefinitions(conn, names.copy)).map((c) => c.name));
  if (kept.size === 0)
    throw new ShadowdbError(
      "OVERLAY_NOT_INSTALLED",
      `${names.table.schema}.${names.table.name} has no overlay`,
    );
  // Columns production's copy does not have yet (no reinstall since the table gained them) are
  // not compared: there is no production value to compare with.
  const columns = tableColumns.filter((c) => kept.has(c.name));
  const keyColumns = key.map((k) => columns.find((c) => c.name === k)!);
  const select = [
    ...keyColumns.map((c) => asText("o", c)),
    `c.${ident(key[0]!)} IS NOT NULL`,
    `t.${ident(key[0]!)} IS NOT NULL`,
    "o.how = 'c'",
    ...columns.map((c) => asText("c", c)),
    ...columns.map((c) => asText("t", c)),
  ];
  const [rows] = await conn.query({
    sql: `SELECT ${select.join(", ")}
            FROM ${qualified(names.owned)} o
            LEFT JOIN ${qualified(names.copy)} c ON ${matches(key, "c", "o")}
            LEFT JOIN ${qualified(names.table)} t ON ${matches(key, "t", "o")}
           ORDER BY ${key.map((k) => `o.${ident(k)}`).join(", ")}`,
    rowsAsArray: true,
  });
  const ignored = new Set(ignore);
  const record = (cells: Cell[]) => Object.fromEntries(columns.map((c, i) => [c.name, cells[i] ?? null]));
  const out: RowDiff[] = [];
  for (const row of rows as Cell[][]) {
    const k = Object.fromEntries(key.map((name, i) => [name, row[i] ?? null]));
    const hasProduction = Number(row[key.length]) === 1;
    const hasShadow = Number(row[key.length + 1]) === 1;
    const hidden = Number(row[key.length + 2]) === 1;
    const start = key.length + 3;
    const production = row.slice(start, start + columns.length);
    const shadow = row.slice(start + columns.length);
    if (hidden && hasProduction && !hasShadow)
      out.push({ kind: "hidden", key: k, production: record(production) });
    else if (hasShadow && !hasProduction) out.push({ kind: "inserted", key: k, shadow: record(shadow) });
    else if (hasProduction && !hasShadow)
      out.push({ kind: "deleted", key: k, production: record(production) });
    else if (hasProduction && hasShadow) {
      const changed = columns.flatMap((c, i) =>
        !ignored.has(c.name) && production[i] !== shadow[i]
          ? [{ column: c.name, production: production[i] ?? null, shadow: shadow[i] ?? null }]
          : [],
      );
      if (changed.length > 0)
        out.push({
          kind: "updated",
          key: k,
          production: record(production),
          shadow: record(shadow),
          changed,
        });
    }
  }
  return { table: names.table, owned: (rows as unknown[]).length, rows: out };
}
