import type { Value } from "../decode/values.ts";

/** Rows with the same set of present columns can share one statement (TOAST leaves some out). */
export function groupByColumns(rows: Record<string, Value>[]): Map<string, Record<string, Value>[]> {
  const groups = new Map<string, Record<string, Value>[]>();
  // Rows come in runs of one shape: comparing names with the last row's is cheaper than joining
  // and hashing them for every row.
  let lastNames: string[] = [];
  let lastGroup: Record<string, Value>[] | undefined;
  for (const row of rows) {
    const names = Object.keys(row);
    if (lastGroup && sameNames(names, lastNames)) {
      lastGroup.push(row);
      continue;
    }
    const signature = names.join("\u0000");
    let group = groups.get(signature);
    if (group) group.push(row);
    else {
      group = [row];
      groups.set(signature, group);
    }
    lastNames = names;
    lastGroup = group;
  }
  return groups;
}

function sameNames(a: string[], b: string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
