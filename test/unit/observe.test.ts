import assert from "node:assert/strict";
import { test } from "node:test";
import { observeApplied, reportSetAside } from "../../src/apply/observe.ts";
import type { Item, Origin } from "../../src/batch/items.ts";
import { ShadowdbError } from "../../src/errors.ts";
import { Health } from "../../src/health/health.ts";
import { createLogger } from "../../src/log.ts";
import { Metrics } from "../../src/metrics/metrics.ts";

const NOW = 1_000_000;

function item(topic: string, partition: number, offset: number, origin?: Origin): Item {
  const record = { topic, partition, offset: String(offset), key: null, value: null };
  return origin ? { record, origin } : { record };
}

test("observeApplied counts per table and op, skips dead letters, and keeps each partition's last change", async () => {
  const health = new Health({ readyLagMs: 1000, stalledAfterMs: 1000, now: () => NOW });
  const metrics = new Metrics();
  // Two topics into one table, and a second table.
  const tableOf = (topic: string) => (topic === "c" ? "public.other" : "public.t");
  const items = [
    item("a", 0, 1, { op: "c", sourceMs: NOW - 500, snapshot: false }),
    item("a", 0, 2, { op: "u", sourceMs: NOW - 400, snapshot: false }),
    item("a", 1, 7, { op: "c", sourceMs: NOW - 300, snapshot: "true" }),
    item("a", 1, 8), // a tombstone: no change, no count
    item("b", 0, 3, { op: "c", sourceMs: NOW - 200, snapshot: false }),
    item("b", 0, 4, { op: "d", sourceMs: NOW - 100, snapshot: false }), // dead-lettered
    item("c", 0, 5, { op: "r", sourceMs: NOW - 50, snapshot: "first" }),
  ];
  const deadLetters = [
    {
      topic: "b",
      partition: 0,
      offset: "4",
      key: null,
      value: null,
      code: "TARGET_DATA" as const,
      message: "x",
    },
  ];
  observeApplied(
    { health, metrics, tableOf },
    items,
    { applied: 6, deadLetters, toCopy: 0, lostInserts: 0, hidden: 0 },
    0.5,
    NOW,
  );

  const text = await metrics.registry.metrics();
  const count = (table: string, op: string) =>
    Number(
      new RegExp(`^shadowdb_changes_applied_total\\{table="${table}",op="${op}"\\} (\\d+)`, "m").exec(
        text,
      )?.[1] ?? 0,
    );
  assert.equal(count("public.t", "c"), 3);
  assert.equal(count("public.t", "u"), 1);
  assert.equal(count("public.t", "d"), 0);
  assert.equal(count("public.other", "r"), 1);
  // Delays of non-snapshot changes that were applied: 500, 400, 200 ms.
  assert.match(text, /^shadowdb_source_delay_seconds_count 3$/m);
  assert.match(text, /^shadowdb_source_delay_seconds_sum 1\.1$/m);
  // Letters are counted as their commits report them (reportSetAside), not here again.
  assert.doesNotMatch(text, /^shadowdb_dead_letters_total\{/m);

  const partitions = health.snapshot() as Record<string, { snapshotting: boolean; lagMs?: number }>;
  assert.deepEqual(Object.keys(partitions).sort(), ["a[0]", "a[1]", "b[0]", "c[0]"]);
  assert.equal(partitions["a[1]"]!.snapshotting, true);
  assert.equal(partitions["a[0]"]!.snapshotting, false);
  assert.equal(partitions["c[0]"]!.snapshotting, true);
});

test("reportSetAside counts stored and reduced letters as dead letters, refused ones as DEAD_LETTER_UNSTORABLE", async () => {
  const metrics = new Metrics();
  const lines: Record<string, unknown>[] = [];
  const log = createLogger("warn", { write: (line: string) => lines.push(JSON.parse(line)) });
  const counts = { deadLetters: 0, unstorableLetters: 0 };
  const letter = (offset: string) => ({
    topic: "t",
    partition: 0,
    offset,
    key: null,
    value: null,
    code: "DECODE_MALFORMED_JSON" as const,
    message: `bad ${offset}`,
  });
  const refused = new ShadowdbError("TARGET_OTHER", "refused (22021)");
  reportSetAside(
    [
      { letter: letter("1"), stored: "letter" },
      { letter: letter("2"), stored: "reduced", refused },
      { letter: letter("3"), stored: "nothing", refused },
    ],
    log,
    counts,
    metrics,
  );
  assert.deepEqual(counts, { deadLetters: 2, unstorableLetters: 1 });
  const text = await metrics.registry.metrics();
  assert.match(text, /^shadowdb_dead_letters_total\{topic="t",code="DECODE_MALFORMED_JSON"\} 2$/m);
  assert.match(text, /^shadowdb_dead_letters_total\{topic="t",code="DEAD_LETTER_UNSTORABLE"\} 1$/m);
  assert.deepEqual(
    lines.map((l) => [l.level, l.offset, l.refused ?? null]),
    [
      [40, "1", null],
      [40, "2", "TARGET_OTHER"],
      [50, "3", "TARGET_OTHER"],
    ],
  );
  assert.match(String(lines[2]!.msg), /refused .*skipped: bad 3/);
  assert.equal(lines[2]!.errorCode, "DEAD_LETTER_UNSTORABLE");
});
