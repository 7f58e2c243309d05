/** Rows of cells as aligned columns, for text output to people (status, diff). */
export function alignedTable(header: string[], rows: string[][]): string {
  // A loop, not Math.max(...column): a diff's rows are unbounded, and spread arguments overflow the stack.
  const widths = header.map((cell) => cell.length);
  for (const row of rows) {
    for (let i = 0; i < widths.length; i++) widths[i] = Math.max(widths[i]!, (row[i] ?? "").length);
  }
  const lines: string[] = [];
  for (const row of [header, ...rows]) {
    lines.push(
      row
        .map((cell, i) => cell.padEnd(widths[i]!))
        .join("  ")
        .trimEnd(),
    );
  }
  return lines.join("\n");
}
