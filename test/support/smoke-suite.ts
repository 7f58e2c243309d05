/**
 * The real pipeline, source → Debezium → Kafka: what shadowdb will consume, asserted as it arrives
 * (keys, envelopes, tombstones, transaction BEGIN/END), the same on every engine. Each engine's
 * file (smoke-<engine>.test.ts) says how it names a transaction and what its before-images carry.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, test } from "node:test";
import type { Sql } from "./crash.ts";
import { type Engine, engines } from "./engines.ts";
import { services } from "./env.ts";
import { collect, json, kafkaClient, type RawMessage, waitForTopic } from "./kafka.ts";

export interface Envelope {
  schema: { name: string };
  payload: {
    op: string;
    before: Record<string, unknown> | null;
    after: Record<string, unknown> | null;
    source: { db: string; table: string };
    transaction: { id: string; total_order: number; data_collection_order: number } | null;
  };
}

export interface SmokeSide {
  name: Engine["name"];
  /** The engine as the test's title names it. */
  title: string;
  /** Creates `table` (id int PRIMARY KEY, name text NOT NULL, qty int) in the engine's terms. */
  create(table: string): string;
  /** Runs `statements` in one transaction; returns the transaction's id as tx() reads it back. */
  transaction(db: Sql, statements: string[]): Promise<string>;
  /** The transaction a Debezium transaction id names, or undefined when it is not in the engine's form. */
  tx(debeziumId: string): string | undefined;
  /** The before-images, which differ: PostgreSQL's replica identity against MariaDB's full row image. */
  checkBeforeImages(values: (Envelope | null)[]): void;
}

export function smokeSuite(side: SmokeSide): void {
  const table = `smoke_${randomBytes(4).toString("hex")}`;
  let db: Sql;

  before(async () => {
    db = await engines(await services())
      .find((e) => e.name === side.name)!
      .connectProd();
  });

  after(async () => {
    await db?.query(`DROP TABLE IF EXISTS ${table}`);
    await db?.end();
  });

  test(`${side.title} changes arrive as Debezium events with keys, tombstones and transaction markers`, async () => {
    const e = engines(await services()).find((e) => e.name === side.name)!;
    const kafka = kafkaClient(e.brokers);
    await db.query(side.create(table));

    const ids = [
      await side.transaction(db, [`INSERT INTO ${table} VALUES (1, 'one', 1), (2, 'two', 2)`]),
      await side.transaction(db, [`UPDATE ${table} SET qty = 10 WHERE id = 1`]),
      await side.transaction(db, [`DELETE FROM ${table} WHERE id = 2`]),
      await side.transaction(db, [
        `INSERT INTO ${table} VALUES (3, 'three', 3)`,
        `UPDATE ${table} SET name = 'THREE' WHERE id = 3`,
        `DELETE FROM ${table} WHERE id = 1`,
      ]),
    ];
    const ours = (debeziumId: unknown) => {
      const tx = side.tx(String(debeziumId));
      return tx !== undefined && ids.includes(tx);
    };

    const topic = e.topic(table);
    const txTopic = `${e.prefix}.transaction`;
    await waitForTopic(kafka, topic);
    const ourTx = (m: RawMessage) =>
      m.topic === txTopic && ours((json(m.value) as { payload: { id: string } }).payload.id);
    // Counted as they come: the transaction topic holds every earlier test's transactions too.
    let [rowsSeen, markersSeen, counted] = [0, 0, 0];
    const messages = await collect(kafka, [topic, txTopic], (all) => {
      for (; counted < all.length; counted++) {
        if (all[counted]!.topic === topic) rowsSeen++;
        else if (ourTx(all[counted]!)) markersSeen++;
      }
      return rowsSeen >= 9 && markersSeen >= 8;
    });

    const rows = messages.filter((m) => m.topic === topic);
    const keys = rows.map((m) => (json(m.key) as { payload: { id: number } }).payload.id);
    assert.deepEqual(keys, [1, 2, 1, 2, 2, 3, 3, 1, 1]);
    const values = rows.map((m) => json(m.value) as Envelope | null);
    assert.deepEqual(
      values.map((v) => v?.payload.op ?? "tombstone"),
      ["c", "c", "u", "d", "tombstone", "c", "u", "d", "tombstone"],
    );
    assert.match(
      values[0]!.schema.name,
      new RegExp(`^${e.prefix}\\.${e.sourceSchema}\\.${table}\\.Envelope$`),
    );
    assert.deepEqual(values[0]!.payload.after, { id: 1, name: "one", qty: 1 });
    assert.equal(values[0]!.payload.before, null);
    assert.deepEqual(values[2]!.payload.after, { id: 1, name: "one", qty: 10 });
    side.checkBeforeImages(values);
    assert.equal(values[3]!.payload.after, null);
    assert.equal(rows[4]!.value, null, "a tombstone follows the delete");
    assert.deepEqual(values[6]!.payload.after, { id: 3, name: "THREE", qty: 3 });
    assert.equal(values[0]!.payload.source.table, table);
    assert.equal(values[0]!.payload.source.db, "prod");

    // Every data event names its transaction.
    const eventTx = values.filter((v) => v !== null).map((v) => side.tx(v.payload.transaction!.id));
    assert.deepEqual(eventTx, [ids[0], ids[0], ids[1], ids[2], ids[3], ids[3], ids[3]]);
    assert.deepEqual(
      values
        .filter((v) => v?.payload.transaction && side.tx(v.payload.transaction.id) === ids[3])
        .map((v) => v!.payload.transaction!.total_order),
      [1, 2, 3],
    );

    const markers = messages
      .filter(ourTx)
      .map((m) => (json(m.value) as { payload: Record<string, unknown> }).payload);
    for (const [i, id] of ids.entries()) {
      const mine = markers.filter((p) => side.tx(String(p.id)) === id);
      assert.deepEqual(
        mine.map((p) => p.status),
        ["BEGIN", "END"],
        `transaction ${i} has BEGIN then END`,
      );
      assert.equal(mine[1]!.event_count, [2, 1, 1, 3][i]);
      assert.deepEqual(mine[1]!.data_collections, [
        { data_collection: `${e.sourceSchema}.${table}`, event_count: [2, 1, 1, 3][i] },
      ]);
    }
  });
}
