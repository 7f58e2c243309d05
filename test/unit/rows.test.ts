/** groupByColumns: one group per set of present columns, in order, however the shapes interleave. */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { Value } from "../../src/decode/values.ts";
import { groupByColumns } from "../../src/target/rows.ts";

test("rows group by their present columns, each group in the rows' order", () => {
  const rows: Record<string, Value>[] = [
    { id: 1n, a: "x", b: 1 },
    { id: 2n, a: "y", b: 2 },
    { id: 3n, a: "z" },
    { id: 4n, a: "w", b: 4 },
    { id: 5n, b: 5, a: "v" },
    { id: 6n, a: "u" },
  ];
  const groups = groupByColumns(rows);
  assert.deepEqual(
    [...groups.entries()].map(([signature, group]) => [signature.split("\u0000"), group.map((r) => r.id)]),
    [
      [
        ["id", "a", "b"],
        [1n, 2n, 4n],
      ],
      [
        ["id", "a"],
        [3n, 6n],
      ],
      [["id", "b", "a"], [5n]],
    ],
  );
});
