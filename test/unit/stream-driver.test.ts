/**
 * StreamDriver over the recording fake of our Target interface and a fake of our KafkaSource: what
 * a stream applied is counted once it commits, so a stream rolled back and streamed again (a lost
 * connection, a rebalance, a stop) is not counted twice.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { reportApplied } from "../../src/apply/observe.ts";
import { Serial } from "../../src/apply/serial.ts";
import { StreamDriver } from "../../src/apply/stream-driver.ts";
import { type KnownShapes, resolveShapes } from "../../src/apply/streamed-transaction.ts";
import { SourceTransactions } from "../../src/batch/source-transactions.ts";
import { Health } from "../../src/health/health.ts";
import { createLogger } from "../../src/log.ts";
import { Metrics } from "../../src/metrics/metrics.ts";
import type { KafkaSource } from "../../src/source/consumer.ts";
import { dbError } from "../support/fake-target.ts";
import { streamSetup } from "../support/stream-setup.ts";

function setup() {
  const { table, target, ctx, items, positions } = streamSetup();
  // Without their source transactions' marks: the stream may commit as soon as it has written them.
  return { table, target, ctx, items: items.map(({ transaction: _, ...item }) => item), positions };
}

// Our own source interface: the driver only pauses, seeks and resumes partitions.
const source = { pause() {}, seek() {}, resume() {} } as unknown as KafkaSource;

test("a stream rolled back and streamed again counts its changes once, when it commits", async () => {
  const { table, target, ctx, items, positions } = setup();
  const transactions = new SourceTransactions({ consumes: () => true, timeoutMs: 60_000 });
  const counted = { calls: 0 };
  const stats = { applied: 0, toCopy: 0, lostInserts: 0, hidden: 0 };
  const health = new Health({ readyLagMs: 1000, stalledAfterMs: 60_000 });
  const metrics = new Metrics();
  // Summed over the ops of the one table.
  const changesApplied = async () => {
    const text = await metrics.registry.metrics();
    let n = 0;
    for (const m of text.matchAll(/^shadowdb_changes_applied_total\{[^}]*\} (\d+)$/gm)) n += Number(m[1]);
    return n;
  };
  // Shapes resolved beforehand: the stream needs no DDL, the only failure is the injected one.
  const known: KnownShapes = { columns: new WeakSet(), topics: new Set() };
  await resolveShapes(ctx, known, items);
  const driver = new StreamDriver({
    ctx,
    known,
    chunkSize: 2,
    transactions,
    positions,
    source,
    health,
    log: createLogger("silent"),
    stats: { batches: 0, retries: 0 },
    serial: new Serial(),
    retrying: (work) => work(),
    answered: () => undefined,
    applied: (summary) => {
      counted.calls++;
      reportApplied({ health, metrics, tableOf: () => "public.t" }, summary, stats);
    },
    givenUp: () => undefined,
    committed: async () => undefined,
  });
  const changes = items.filter((i) => i.change).length;
  assert.ok(changes > 2, "the fixture streams in several chunks");
  // The first commit loses its connection after every chunk went in: rolled back, to stream again.
  let lost = false;
  target.failOn = (op) => {
    if (op.op !== "savePositions" || lost) return undefined;
    lost = true;
    return dbError("Connection terminated unexpectedly");
  };
  const stop = new AbortController();
  transactions.add(items);
  await driver.start(stop.signal);
  assert.ok(lost);
  assert.equal(driver.active, false, "the stream was rolled back");
  assert.deepEqual(target.committed(), []);
  assert.equal(stats.applied, 0, "nothing committed: nothing counted");
  assert.equal(await changesApplied(), 0);

  transactions.add(items);
  await driver.start(stop.signal);
  assert.equal(target.committed().length, 1);
  assert.ok(target.rows(table).length > 0);
  assert.equal(stats.applied, changes, "each change counted once");
  assert.equal(await changesApplied(), changes);
  assert.equal(counted.calls, 1, "reported once, at the commit");
});
