/**
 * A `topicPattern` maps tables production creates after shadowdb started: their topics appear
 * later, and the materializer subscribes to them without a restart.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { test } from "node:test";
import { engines } from "../support/engines.ts";
import { services } from "../support/env.ts";
import { kafkaClient, waitForTopic } from "../support/kafka.ts";
import { eventually, startMaterializer } from "../support/materialize.ts";
import { uninstallOverlays } from "../support/overlay.ts";

for (const pick of ["postgres", "mariadb"] as const) {
  test(`${pick}: a table created after start is picked up by its topicPattern`, {
    timeout: 150_000,
  }, async () => {
    const engine = engines(await services()).find((e) => e.name === pick)!;
    const suffix = randomBytes(4).toString("hex");
    const [first, later] = [`np_${suffix}_first`, `np_${suffix}_later`];
    const group = `test-np-${suffix}`;
    const prod = await engine.connectProd();
    const shadow = await engine.connectShadow();
    const escaped = (s: string) => s.replaceAll(".", "\\\\.");
    try {
      await prod.query(`CREATE TABLE ${first} (id int PRIMARY KEY, note varchar(20))`);
      await prod.query(`INSERT INTO ${first} VALUES (1, 'first')`);
      await waitForTopic(kafkaClient(engine.brokers), engine.topic(first));
      const running = await startMaterializer(`
kafka: { brokers: "${engine.brokers}", groupId: "${group}", topicRefreshMs: 1000 }
target: { dialect: ${engine.dialect}, url: "${engine.shadowUrl}" }
tables:
  - topicPattern: "${escaped(`${engine.prefix}.${engine.sourceSchema}.`)}(np_${suffix}_[a-z]+)"
    table: "${engine.targetSchema}.$1"
deadLetter: { table: "${engine.targetSchema}.shadowdb_dead_letters" }
http: { port: 0 }
`);
      const rows = async (table: string) => {
        try {
          const { rows } = await shadow.query(`SELECT id, note FROM ${table} ORDER BY id`);
          return JSON.stringify(rows.map((r) => [Number(r.id), r.note]));
        } catch (error) {
          return String(error);
        }
      };
      try {
        await eventually(
          "the first table arrives",
          async () => ((await rows(first)) === '[[1,"first"]]' ? true : await rows(first)),
          60_000,
          running,
        );
        assert.deepEqual(running.materializer.topics, [engine.topic(first)]);
        await prod.query(`CREATE TABLE ${later} (id int PRIMARY KEY, note varchar(20))`);
        await prod.query(`INSERT INTO ${later} VALUES (7, 'later')`);
        await prod.query(`INSERT INTO ${first} VALUES (2, 'still')`);
        await eventually(
          "the later table arrives",
          async () => ((await rows(later)) === '[[7,"later"]]' ? true : await rows(later)),
          60_000,
          running,
        );
        await eventually(
          "the first table keeps flowing",
          async () => ((await rows(first)) === '[[1,"first"],[2,"still"]]' ? true : await rows(first)),
          30_000,
          running,
        );
        assert.deepEqual(running.materializer.topics, [engine.topic(first), engine.topic(later)].sort());
      } finally {
        await running.stop();
      }
    } finally {
      const names = [first, later].map((name) => ({ schema: engine.targetSchema, name }));
      await uninstallOverlays(engine.dialect, engine.shadowUrl, names);
      for (const c of [prod, shadow]) {
        for (const t of [first, later]) await c.query(`DROP TABLE IF EXISTS ${t}`).catch(() => undefined);
      }
      await shadow.query(`DELETE FROM shadowdb_positions WHERE group_id = '${group}'`).catch(() => undefined);
      await prod.end();
      await shadow.end();
    }
  });
}
