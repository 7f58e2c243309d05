/** A generated page (docs/config.md, docs/errors.md) must be what its script makes now. */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import path from "node:path";

export async function assertUpToDate(file: string, generated: string, command: string): Promise<void> {
  const written = await readFile(file, "utf8").catch(() => "");
  if (written === generated) return;
  const a = written.split("\n");
  const b = generated.split("\n");
  const line = a.findIndex((text, i) => text !== b[i]);
  const at = line < 0 ? Math.min(a.length, b.length) : line;
  assert.fail(
    `docs/${path.basename(file)} is stale: run ${command}\n` +
      `first difference at line ${at + 1}:\n  file:      ${a[at] ?? "(end)"}\n  generated: ${b[at] ?? "(end)"}`,
  );
}
