/** chunks: MySQL multi-row statements split into row counts from a short ladder, each within budget. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { chunks, largestRowChars, STATEMENT_CHARS } from "../../src/target/mysql/apply.ts";
import { STATEMENT_PARAMETERS } from "../../src/target/mysql/execute.ts";

const sizes = (n: number, width: number) =>
  [
    ...chunks(
      Array.from({ length: n }, (_, i) => i),
      width,
    ),
  ].map((part) => part.length);

test("every row lands once, in order, in parts whose row counts are powers of two within budget", () => {
  for (const width of [1, 4, 20, 21, 300, 5000]) {
    for (const n of [0, 1, 2, 3, 127, 128, 129, 1000, 4999, 5000, 12345]) {
      const parts = [
        ...chunks(
          Array.from({ length: n }, (_, i) => i),
          width,
        ),
      ];
      assert.deepEqual(
        parts.flat(),
        Array.from({ length: n }, (_, i) => i),
        `width ${width}, ${n} rows`,
      );
      for (const part of parts) {
        assert.equal(part.length & (part.length - 1), 0, `${part.length} rows is a power of two`);
        assert.ok(part.length === 1 || part.length * width <= STATEMENT_PARAMETERS);
      }
    }
  }
});

test("full parts come first, then the remainder's binary digits, largest first", () => {
  const top = 2 ** Math.floor(Math.log2(STATEMENT_PARAMETERS / 20));
  assert.deepEqual(sizes(top * 3 + 5, 20), [top, top, top, 4, 1]);
  assert.deepEqual(sizes(7, 20), [4, 2, 1]);
});

test("batches of any row count use at most a dozen or so statement sizes", () => {
  const seen = new Set<number>();
  for (let n = 1; n <= 6000; n += 7) for (const s of sizes(n, 4)) seen.add(s);
  assert.ok(seen.size <= Math.log2(STATEMENT_PARAMETERS) + 1, `${seen.size} sizes`);
});

test("large rows share a statement only as far as STATEMENT_CHARS allows; a row above it goes alone", () => {
  const rows = Array.from({ length: 1000 }, (_, i) => i);
  for (const rowChars of [1, 1000, 48 * 1024, STATEMENT_CHARS / 3, STATEMENT_CHARS * 2]) {
    const parts = [...chunks(rows, 2, rowChars)];
    assert.deepEqual(parts.flat(), rows);
    for (const part of parts) assert.ok(part.length === 1 || part.length * rowChars <= STATEMENT_CHARS);
  }
  assert.equal([...chunks(rows, 2, 48 * 1024)][0]!.length, 64);
  assert.equal([...chunks(rows, 2, STATEMENT_CHARS * 2)][0]!.length, 1);
});

test("largestRowChars counts text and bytes by length, structures as JSON, other values as 8", () => {
  assert.equal(largestRowChars([]), 0);
  assert.equal(
    largestRowChars([
      { a: "abc", b: Buffer.alloc(10), c: null },
      { a: "x".repeat(20), n: 5, j: { k: [1n] } },
    ]),
    20 + 8 + JSON.stringify({ k: ["1"] }).length,
  );
  // A statement that sends some columns (a key) is sized by those alone.
  assert.equal(largestRowChars([{ id: "k".repeat(30), big: "x".repeat(1000) }], ["id"]), 30);
});
