/** The text form of a diff: aligned columns, and no limit on rows but memory (no spread arguments). */
import assert from "node:assert/strict";
import { test } from "node:test";
import { diffText } from "../../src/overlay/diff-text.ts";
import type { TableDiff } from "../../src/target/dialect.ts";

test("a diff of 200,000 rows renders (column widths without spread arguments), aligned", () => {
  const rows: TableDiff["rows"] = [];
  for (let id = 1; id <= 200_000; id++)
    rows.push({ kind: "inserted", key: { id: String(id) }, shadow: { id: String(id), v: "s" } });
  const text = diffText([{ table: { schema: "public", name: "t" }, owned: rows.length, rows }]);
  const lines = text.split("\n");
  assert.equal(lines.length, 1 + 200_000 + 2);
  // Each column as wide as its widest cell ("public.t", "inserted", "id=200000", …) and two spaces.
  assert.equal(lines[0], "TABLE     CHANGE    KEY        COLUMN  PRODUCTION  SHADOW");
  assert.equal(lines[1], 'public.t  inserted  id=1       *                   {"id":"1","v":"s"}');
  assert.equal(lines.at(-1), "200000 row(s) differ from production; 200000 key(s) owned by the shadow");
});
