/**
 * `apply.transactional: source` on both engines: every production transaction updates all rows of
 * one table and inserts a row into another. A watcher reads the shadow in consistent snapshots
 * the whole time; in each, both tables must show the same transaction count. Applied per table,
 * the shadow would show one table ahead of the other between two commits.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { test } from "node:test";
import type { Sql } from "../support/crash.ts";
import { type Engine, engines } from "../support/engines.ts";
import { services } from "../support/env.ts";
import { kafkaClient, waitForTopic } from "../support/kafka.ts";
import { eventually, startMaterializer } from "../support/materialize.ts";
import { uninstallOverlays } from "../support/overlay.ts";

const TRANSACTIONS = 150;
const ROWS = 5;

interface Seen {
  /** A snapshot whose tables disagree. */
  violations: string[];
  /** Distinct transaction counts observed: the watcher must see the shadow move, or it proves nothing. */
  states: Set<number>;
}

async function watch(shadow: Sql, engine: Engine, a: string, b: string, seen: Seen): Promise<void> {
  await shadow.query(engine.snapshotBegin);
  try {
    const { rows: as } = await shadow.query(`SELECT n FROM ${a}`);
    const { rows: bs } = await shadow.query(`SELECT count(*) AS c, max(id) AS m FROM ${b}`);
    const ns = new Set(as.map((r) => Number(r.n)));
    const count = Number(bs[0]!.c);
    const top = bs[0]!.m === null ? 0 : Number(bs[0]!.m);
    const state = as.length === 0 ? "no rows in a" : [...ns].join(",");
    const agrees = as.length === 0 ? count === 0 : as.length === ROWS && ns.size === 1 && ns.has(count);
    if (!agrees || top !== count) seen.violations.push(`a: ${state}; b: ${count} rows up to ${top}`);
    seen.states.add(count);
  } finally {
    await shadow.query("COMMIT");
  }
}

for (const pick of ["postgres", "mariadb"] as const) {
  test(`${pick}: a source transaction across two tables becomes visible in the shadow as a whole`, {
    timeout: 180_000,
  }, async () => {
    const engine = engines(await services()).find((e) => e.name === pick)!;
    const suffix = randomBytes(4).toString("hex");
    const [a, b] = [`st_a_${suffix}`, `st_b_${suffix}`];
    const group = `test-st-${suffix}`;
    const prod = await engine.connectProd();
    const shadow = await engine.connectShadow();
    const watcherConn = await engine.connectShadow();
    try {
      for (const c of [prod, shadow]) {
        await c.query(`CREATE TABLE ${a} (id int PRIMARY KEY, n bigint NOT NULL)`);
        await c.query(`CREATE TABLE ${b} (id int PRIMARY KEY, n bigint NOT NULL)`);
      }
      const values = Array.from({ length: ROWS }, (_, i) => `(${i + 1}, 0)`).join(", ");
      await prod.query(`INSERT INTO ${a} VALUES ${values}`);
      const kafka = kafkaClient(engine.brokers);
      await waitForTopic(kafka, engine.topic(a));
      await waitForTopic(kafka, `${engine.prefix}.transaction`);
      const running = await startMaterializer(`
kafka: { brokers: "${engine.brokers}", groupId: "${group}", topicRefreshMs: 1000 }
target: { dialect: ${engine.dialect}, url: "${engine.shadowUrl}" }
tables:
  - { topic: "${engine.topic(a)}", table: "${engine.targetSchema}.${a}" }
  - { topic: "${engine.topic(b)}", table: "${engine.targetSchema}.${b}" }
apply: { transactional: source, transactionTopic: "${engine.prefix}.transaction" }
deadLetter: { table: "${engine.targetSchema}.shadowdb_dead_letters" }
http: { port: 0 }
`);
      const seen: Seen = { violations: [], states: new Set() };
      let watching = true;
      const watcher = (async () => {
        while (watching) await watch(watcherConn, engine, a, b, seen);
      })();
      try {
        for (let n = 1; n <= TRANSACTIONS; n++) {
          await prod.query("BEGIN");
          await prod.query(`UPDATE ${a} SET n = ${n}`);
          await prod.query(`INSERT INTO ${b} VALUES (${n}, ${n})`);
          await prod.query("COMMIT");
          // Paced, so that the shadow moves in many steps for the watcher to see (≥ 5 asserted).
          await new Promise((r) => setTimeout(r, 20));
        }
        await eventually(
          "the shadow holds every transaction",
          async () => {
            const { rows } = await shadow.query(`SELECT count(*) AS c FROM ${b}`);
            const count = Number(rows[0]!.c);
            return count === TRANSACTIONS ? true : `${count} of ${TRANSACTIONS}`;
          },
          90_000,
          running,
        );
      } finally {
        watching = false;
        await watcher;
        await running.stop();
      }
      assert.deepEqual(seen.violations, [], "no snapshot shows half a transaction");
      assert.ok(seen.states.size >= 5, `the watcher saw the shadow move (${seen.states.size} states)`);
      assert.equal(running.materializer.stats.incompleteTransactions, 0);
      const { rows } = await shadow.query(`SELECT min(n) AS lo, max(n) AS hi FROM ${a}`);
      assert.deepEqual([Number(rows[0]!.lo), Number(rows[0]!.hi)], [TRANSACTIONS, TRANSACTIONS]);
    } finally {
      const names = [a, b].map((name) => ({ schema: engine.targetSchema, name }));
      await uninstallOverlays(engine.dialect, engine.shadowUrl, names);
      for (const c of [prod, shadow]) {
        await c.query(`DROP TABLE IF EXISTS ${a}`).catch(() => undefined);
        await c.query(`DROP TABLE IF EXISTS ${b}`).catch(() => undefined);
      }
      await shadow.query(`DELETE FROM shadowdb_positions WHERE group_id = '${group}'`).catch(() => undefined);
      for (const c of [prod, shadow, watcherConn]) await c.end();
    }
  });
}
