/**
 * The overlay under fire, on both engines, through the real pipeline: several shadow writer
 * connections insert, update and delete random keys of a table while production changes the
 * same keys and Debezium → Kafka → shadowdb applies them. Each shadow write logs itself in the
 * same transaction (a row lock or unique check orders writes to one key, so the log's order per
 * key is their commit order). At the end every key the shadow wrote holds its last write, the
 * production copy holds production's version, and every other key equals production; after a
 * reset the whole table equals production.
 */
import assert from "node:assert/strict";
import { randomBytes, randomInt } from "node:crypto";
import { test } from "node:test";
import { overlayNames } from "../../src/overlay/names.ts";
import { loadDialect } from "../../src/target/load.ts";
import type { Sql } from "../support/crash.ts";
import { type Engine, engines } from "../support/engines.ts";
import { services } from "../support/env.ts";
import { kafkaClient, waitForTopic } from "../support/kafka.ts";
import { eventually, startMaterializer } from "../support/materialize.ts";
import { uninstallOverlays } from "../support/overlay.ts";

const KEYS = 4000;
const PRODUCTION_ROWS = 3000;
const WRITERS = 3;
const WRITE_MS = 15_000;

type Rows = Map<number, { v: string; writer: string }>;

async function rowsOf(db: Sql, table: string): Promise<Rows> {
  const { rows } = await db.query(`SELECT id, v, writer FROM ${table}`);
  return new Map(rows.map((r) => [Number(r.id), { v: String(r.v), writer: String(r.writer) }]));
}

const same = (a: { v: string; writer: string } | undefined, b: { v: string; writer: string } | undefined) =>
  a === undefined || b === undefined ? a === b : a.v === b.v && a.writer === b.writer;

/** One production or shadow write on a random key; returns what it did, or undefined if nothing. */
async function randomWrite(
  db: Sql,
  table: string,
  writer: string,
): Promise<{ id: number; op: "w" | "d"; v: string } | undefined> {
  const id = 1 + randomInt(KEYS);
  const v = String(randomInt(1, 2 ** 40));
  const dice = randomInt(10);
  try {
    if (dice < 5) {
      const { affected } = await db.query(
        `UPDATE ${table} SET v = ${v}, writer = '${writer}' WHERE id = ${id}`,
      );
      return affected > 0 ? { id, op: "w", v } : undefined;
    }
    if (dice < 8) {
      await db.query(`INSERT INTO ${table} (id, v, writer) VALUES (${id}, ${v}, '${writer}')`);
      return { id, op: "w", v };
    }
    const { affected } = await db.query(`DELETE FROM ${table} WHERE id = ${id}`);
    return affected > 0 ? { id, op: "d", v: "" } : undefined;
  } catch (error) {
    // A duplicate key (the row exists, or another writer inserted it first) is part of the game.
    if (expected(error)) return undefined;
    throw error;
  }
}

/** What an application meets and handles under this load: duplicates, deadlocks, lock timeouts. */
function expected(error: unknown): boolean {
  const code = String((error as { code?: unknown }).code);
  return ["23505", "40P01", "40001", "ER_DUP_ENTRY", "ER_LOCK_DEADLOCK", "ER_LOCK_WAIT_TIMEOUT"].includes(
    code,
  );
}

function logDdl(engine: Engine, log: string): string {
  return engine.dialect === "postgres"
    ? `CREATE TABLE ${log} (seq bigserial PRIMARY KEY, id int NOT NULL, op char(1) NOT NULL, v bigint)`
    : `CREATE TABLE ${log} (seq bigint AUTO_INCREMENT PRIMARY KEY, id int NOT NULL, op char(1) NOT NULL, v bigint)`;
}

for (const pick of ["postgres", "mariadb"] as const) {
  test(`${pick}: shadow writers and production on the same keys: shadow writes stay, the rest tracks production`, {
    timeout: 240_000,
  }, async () => {
    const engine = engines(await services()).find((e) => e.name === pick)!;
    const suffix = randomBytes(4).toString("hex");
    const table = `ov_${suffix}`;
    const log = `ov_log_${suffix}`;
    const group = `test-ov-${suffix}`;
    const prod = await engine.connectProd();
    const shadow = await engine.connectShadow();
    const writers: Sql[] = [];
    for (let i = 0; i < WRITERS; i++) writers.push(await engine.connectShadow());
    const ddl = `CREATE TABLE ${table} (id int PRIMARY KEY, v bigint NOT NULL, writer varchar(20) NOT NULL)`;
    let running: Awaited<ReturnType<typeof startMaterializer>> | undefined;
    try {
      await prod.query(ddl);
      await shadow.query(ddl);
      await shadow.query(logDdl(engine, log));
      const values = Array.from({ length: PRODUCTION_ROWS }, (_, i) => `(${i + 1}, ${i + 1}, 'prod')`);
      await prod.query(`INSERT INTO ${table} (id, v, writer) VALUES ${values.join(", ")}`);
      await waitForTopic(kafkaClient(engine.brokers), engine.topic(table));
      running = await startMaterializer(`
kafka: { brokers: "${engine.brokers}", groupId: "${group}" }
target: { dialect: ${engine.dialect}, url: "${engine.shadowUrl}" }
tables: [ { topic: "${engine.topic(table)}", table: "${engine.targetSchema}.${table}" } ]
overlay: { enabled: true }
deadLetter: { table: "${engine.targetSchema}.shadowdb_dead_letters" }
http: { port: 0 }
`);
      const live = running;
      await eventually(
        "the snapshot arrives",
        async () => ((await rowsOf(shadow, table)).size === PRODUCTION_ROWS ? true : "not yet"),
        60_000,
        live,
      );

      const deadline = Date.now() + WRITE_MS;
      let shadowWrites = 0;
      let productionWrites = 0;
      const shadowLoop = async (db: Sql, n: number) => {
        while (Date.now() < deadline) {
          await db.query("BEGIN");
          try {
            const done = await randomWrite(db, table, `shadow-${n}`);
            // After a failed statement PostgreSQL's COMMIT rolls back: nothing is logged then.
            if (done)
              await db.query(
                `INSERT INTO ${log} (id, op, v) VALUES (${done.id}, '${done.op}', ${done.v || "NULL"})`,
              );
            await db.query("COMMIT");
            if (done) shadowWrites++;
          } catch (error) {
            await db.query("ROLLBACK");
            if (!expected(error)) throw error;
          }
        }
      };
      const productionLoop = async () => {
        while (Date.now() < deadline) {
          if (await randomWrite(prod, table, "prod")) productionWrites++;
        }
      };
      await Promise.all([productionLoop(), ...writers.map((w, i) => shadowLoop(w, i))]);

      const { rows: logged } = await shadow.query(`SELECT id, op, v FROM ${log} ORDER BY seq`);
      const last = new Map<number, { op: string; v: string }>();
      for (const r of logged) last.set(Number(r.id), { op: String(r.op), v: String(r.v) });
      const names = overlayNames({ schema: engine.targetSchema, name: table });
      const expectedProduction = await rowsOf(prod, table);

      // Production's last changes reach the shadow: its copy of owned rows, the table elsewhere.
      await eventually(
        "production's changes are all applied",
        async () => {
          const [current, copy] = [await rowsOf(shadow, table), await rowsOf(shadow, names.copy.name)];
          for (let id = 1; id <= KEYS; id++) {
            const where = last.has(id) ? copy.get(id) : current.get(id);
            if (!same(where, expectedProduction.get(id))) return `key ${id} behind production`;
          }
          return true;
        },
        90_000,
        live,
      );
      const current = await rowsOf(shadow, table);
      const overwritten: string[] = [];
      for (const [id, write] of last) {
        const row = current.get(id);
        if (write.op === "d" && row !== undefined)
          overwritten.push(`${id}: deleted by the shadow, holds ${row.v}`);
        if (write.op === "w" && (row?.v !== write.v || !row.writer.startsWith("shadow")))
          overwritten.push(`${id}: the shadow wrote ${write.v}, holds ${row?.v ?? "nothing"}`);
      }
      assert.deepEqual(overwritten, [], "every owned key holds the shadow's last write");
      const { rows: owned } = await shadow.query(`SELECT count(*) AS n FROM ${names.owned.name}`);
      assert.equal(Number(owned[0]!.n), last.size, "exactly the keys the shadow wrote are owned");
      const stats = running.materializer.stats;
      console.log(
        `[overlay ${pick}] ${shadowWrites} shadow writes on ${last.size} keys, ${productionWrites} production writes; ` +
          `routed to the copy: ${stats.toCopy}, lost inserts: ${stats.lostInserts}, applied: ${stats.applied}`,
      );
      assert.ok(stats.toCopy > 0, "some production changes met owned keys");
      assert.equal(stats.deadLetters, 0);

      // Reset while apply runs: the table is production's again, and the diff is empty.
      // From another session, as `shadowdb reset` would.
      const dialect = await loadDialect(engine.dialect);
      const admin = new dialect.Target(engine.shadowUrl);
      await admin.prepare();
      const reset = await admin.resetOverlay(names).finally(() => undefined);
      assert.equal(reset, last.size);
      const after = await rowsOf(shadow, table);
      for (let id = 1; id <= KEYS; id++) {
        assert.ok(same(after.get(id), expectedProduction.get(id)), `key ${id} equals production after reset`);
      }
      const diff = await admin.diffOverlay(names, []);
      await admin.close();
      assert.deepEqual([diff.owned, diff.rows.length], [0, 0]);
    } finally {
      await running?.stop();
      await uninstallOverlays(engine.dialect, engine.shadowUrl, [
        { schema: engine.targetSchema, name: table },
      ]);
      for (const c of [prod, shadow]) await c.query(`DROP TABLE IF EXISTS ${table}`).catch(() => undefined);
      await shadow.query(`DROP TABLE IF EXISTS ${log}`).catch(() => undefined);
      await shadow.query(`DELETE FROM shadowdb_positions WHERE group_id = '${group}'`).catch(() => undefined);
      for (const c of [prod, shadow, ...writers]) await c.end();
    }
  });
}
