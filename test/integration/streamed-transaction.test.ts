/**
 * `apply.transactional: source` with transactions larger than apply.maxHeldBytes, on both engines:
 * one INSERT of ROWS rows, then one UPDATE of all of them, each a single production transaction
 * that shadowdb must write as it arrives (a small bound makes it stream). A watcher reads the
 * shadow in consistent snapshots the whole time and must never see part of either; the process's
 * memory must not grow with the transaction (held, 100k events took about 460 MB).
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { test } from "node:test";
import type { Sql } from "../support/crash.ts";
import { type Engine, engines } from "../support/engines.ts";
import { services } from "../support/env.ts";
import { kafkaClient, waitForTopic } from "../support/kafka.ts";
import { eventually, type Running, startMaterializer } from "../support/materialize.ts";
import { uninstallOverlays } from "../support/overlay.ts";

const ROWS = 100_000;
/** About 900 held events: both transactions stream from their first thousand events on. */
const MAX_HELD_BYTES = 4 * 1024 * 1024;
/** Growth of the test process's RSS allowed while the shadow takes 2 x ROWS events. */
const RSS_GROWTH_MB = 300;

interface Seen {
  violations: string[];
  states: Set<string>;
  streamed: boolean;
  peakRss: number;
}

async function watch(shadow: Sql, engine: Engine, table: string, seen: Seen, running: Running) {
  await shadow.query(engine.snapshotBegin);
  try {
    const { rows } = await shadow.query(`SELECT count(*) AS c, min(v) AS lo, max(v) AS hi FROM ${table}`);
    const count = Number(rows[0]!.c);
    const [lo, hi] = [rows[0]!.lo, rows[0]!.hi].map((v) => (v === null ? null : Number(v)));
    const state = count === 0 ? "empty" : `${count} rows, v ${lo}..${hi}`;
    if (count !== 0 && (count !== ROWS || lo !== hi)) seen.violations.push(state);
    seen.states.add(state);
  } finally {
    await shadow.query("COMMIT");
  }
  if (running.materializer.status().streamedTransaction !== undefined) seen.streamed = true;
  seen.peakRss = Math.max(seen.peakRss, process.memoryUsage().rss);
}

const fill: Record<Engine["name"], (table: string) => string> = {
  postgres: (t) => `INSERT INTO ${t} SELECT g, 0, repeat('x', 60) FROM generate_series(1, ${ROWS}) AS g`,
  mariadb: (t) => `INSERT INTO ${t} SELECT seq, 0, repeat('x', 60) FROM seq_1_to_${ROWS}`,
};

for (const pick of ["postgres", "mariadb"] as const) {
  test(`${pick}: a source transaction larger than maxHeldBytes streams and still becomes visible whole`, {
    timeout: 300_000,
  }, async (t) => {
    const engine = engines(await services()).find((e) => e.name === pick)!;
    const suffix = randomBytes(4).toString("hex");
    const table = `hc_big_${suffix}`;
    const group = `test-hc-${suffix}`;
    const prod = await engine.connectProd();
    const shadow = await engine.connectShadow();
    const watcherConn = await engine.connectShadow();
    try {
      for (const c of [prod, shadow]) {
        await c.query(
          `CREATE TABLE ${table} (id int PRIMARY KEY, v int NOT NULL, pad varchar(100) NOT NULL)`,
        );
      }
      await prod.query(`INSERT INTO ${table} VALUES (0, 0, 'topic')`);
      await prod.query(`DELETE FROM ${table} WHERE id = 0`);
      const kafka = kafkaClient(engine.brokers);
      await waitForTopic(kafka, engine.topic(table));
      await waitForTopic(kafka, `${engine.prefix}.transaction`);
      const running = await startMaterializer(`
kafka: { brokers: "${engine.brokers}", groupId: "${group}", topicRefreshMs: 1000 }
target: { dialect: ${engine.dialect}, url: "${engine.shadowUrl}" }
tables:
  - { topic: "${engine.topic(table)}", table: "${engine.targetSchema}.${table}" }
apply: { transactional: source, transactionTopic: "${engine.prefix}.transaction", maxHeldBytes: ${MAX_HELD_BYTES} }
deadLetter: { table: "${engine.targetSchema}.shadowdb_dead_letters" }
http: { port: 0 }
`);
      const baseRss = process.memoryUsage().rss;
      const seen: Seen = { violations: [], states: new Set(), streamed: false, peakRss: baseRss };
      let watching = true;
      const watcher = (async () => {
        while (watching) await watch(watcherConn, engine, table, seen, running);
      })();
      const holds = (v: number) => async () => {
        const { rows } = await shadow.query(`SELECT count(*) AS c, min(v) AS lo FROM ${table}`);
        const [count, lo] = [Number(rows[0]!.c), Number(rows[0]!.lo)];
        return count === ROWS && lo === v ? true : `${count} rows, min(v) ${lo}`;
      };
      try {
        await prod.query(fill[pick](table));
        await eventually("the shadow holds the inserted rows", holds(0), 120_000, running);
        await prod.query(`UPDATE ${table} SET v = 1`);
        await eventually("the shadow holds the updated rows", holds(1), 120_000, running);
      } finally {
        watching = false;
        await watcher;
        await running.stop();
      }
      t.diagnostic(
        `states ${[...seen.states].join("; ")}; RSS ${(baseRss / 2 ** 20).toFixed(0)} MB, peak ${(seen.peakRss / 2 ** 20).toFixed(0)} MB`,
      );
      assert.deepEqual(seen.violations, [], "no snapshot shows part of a transaction");
      assert.ok(seen.streamed, "the transactions were streamed, not held");
      assert.ok(seen.states.has(`${ROWS} rows, v 0..0`), [...seen.states].join("; "));
      assert.equal(running.materializer.stats.incompleteTransactions, 0);
      const growth = (seen.peakRss - baseRss) / 2 ** 20;
      assert.ok(growth < RSS_GROWTH_MB, `RSS grew by ${growth.toFixed(0)} MB`);
      const order = `SELECT id, v, pad FROM ${table} ORDER BY id`;
      const [want, got] = [await prod.query(order), await shadow.query(order)];
      assert.equal(got.rows.length, ROWS);
      assert.deepEqual(got.rows, want.rows, "the shadow equals production");
    } finally {
      const names = [{ schema: engine.targetSchema, name: table }];
      await uninstallOverlays(engine.dialect, engine.shadowUrl, names);
      for (const c of [prod, shadow]) await c.query(`DROP TABLE IF EXISTS ${table}`).catch(() => undefined);
      await shadow.query(`DELETE FROM shadowdb_positions WHERE group_id = '${group}'`).catch(() => undefined);
      for (const c of [prod, shadow, watcherConn]) await c.end();
    }
  });
}
