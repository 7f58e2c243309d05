/** The text form of a diff, for people: aligned columns, one changed column or one row per line. */
import type { TableDiff } from "../target/dialect.ts";
import { alignedTable } from "../text-table.ts";

const keyText = (key: Record<string, string | null>) =>
  Object.entries(key)
    .map(([k, v]) => `${k}=${v ?? "NULL"}`)
    .join(",");

const rowText = (row: Record<string, string | null> | undefined) => (row ? JSON.stringify(row) : "");

/** One line per changed column (updated) or per row (inserted, deleted), in aligned columns. */
export function diffText(diffs: TableDiff[]): string {
  const lines: string[][] = [];
  for (const diff of diffs) {
    const table = `${diff.table.schema}.${diff.table.name}`;
    for (const row of diff.rows) {
      const key = keyText(row.key);
      if (row.kind === "updated") {
        for (const c of row.changed ?? [])
          lines.push([table, "updated", key, c.column, c.production ?? "NULL", c.shadow ?? "NULL"]);
      } else {
        lines.push([table, row.kind, key, "*", rowText(row.production), rowText(row.shadow)]);
      }
    }
  }
  const owned = diffs.reduce((n, d) => n + d.owned, 0);
  const changed = diffs.reduce((n, d) => n + d.rows.length, 0);
  return [
    alignedTable(["TABLE", "CHANGE", "KEY", "COLUMN", "PRODUCTION", "SHADOW"], lines),
    "",
    `${changed} row(s) differ from production; ${owned} key(s) owned by the shadow`,
  ].join("\n");
}
