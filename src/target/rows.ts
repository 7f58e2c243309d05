import type { Value } from "../decode/values.ts";

/** Rows with the same set of present columns can share one statement (TOAST leaves some out). */
export function groupByColumns(rows: Record<string, Value>[]): Map<string, Record<string, Value>[]> {
  const groups = new Map<string, Record<string, Value>[]>();
  for (const row of rows) {
    const signature = Object.keys(row).join("\u0000");
    const group = groups.get(signature);
    if (group) group.push(row);
    else groups.set(signature, [row]);
  }
  return groups;
}
