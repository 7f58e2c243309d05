/**
 * The real pipeline, MariaDB → Debezium → Kafka: keys, full before-images (binlog_row_image=FULL),
 * tombstones, and transaction BEGIN/END keyed by GTID.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, test } from "node:test";
import mysql from "mysql2/promise";
import { services } from "../support/env.ts";
import { collect, json, kafkaClient, type RawMessage, waitForTopic } from "../support/kafka.ts";

interface Envelope {
  schema: { name: string };
  payload: {
    op: string;
    before: Record<string, unknown> | null;
    after: Record<string, unknown> | null;
    source: { db: string; table: string; gtid: string | null };
    transaction: { id: string; total_order: number; data_collection_order: number } | null;
  };
}

const table = `smoke_${randomBytes(4).toString("hex")}`;
let db: mysql.Connection;

before(async () => {
  const env = await services();
  db = await mysql.createConnection(env.SHADOWDB_MY_PROD_URL);
});

after(async () => {
  await db?.query(`DROP TABLE IF EXISTS ${table}`);
  await db?.end();
});

async function transaction(statements: string[]): Promise<string> {
  await db.beginTransaction();
  for (const sql of statements) await db.query(sql);
  await db.commit();
  const [rows] = await db.query("SELECT @@last_gtid AS gtid");
  return (rows as { gtid: string }[])[0]!.gtid;
}

test("MariaDB changes arrive as Debezium events with keys, tombstones and transaction markers", async () => {
  const env = await services();
  const kafka = kafkaClient(env.SHADOWDB_KAFKA_BROKERS);
  await db.query(
    `CREATE TABLE ${table} (id int PRIMARY KEY, name varchar(40) NOT NULL, qty int) ENGINE=InnoDB`,
  );

  const gtids = [
    await transaction([`INSERT INTO ${table} VALUES (1, 'one', 1), (2, 'two', 2)`]),
    await transaction([`UPDATE ${table} SET qty = 10 WHERE id = 1`]),
    await transaction([`DELETE FROM ${table} WHERE id = 2`]),
    await transaction([
      `INSERT INTO ${table} VALUES (3, 'three', 3)`,
      `UPDATE ${table} SET name = 'THREE' WHERE id = 3`,
      `DELETE FROM ${table} WHERE id = 1`,
    ]),
  ];

  const topic = `${env.SHADOWDB_MY_TOPIC_PREFIX}.prod.${table}`;
  const txTopic = `${env.SHADOWDB_MY_TOPIC_PREFIX}.transaction`;
  await waitForTopic(kafka, topic);
  const ourTx = (m: RawMessage) =>
    m.topic === txTopic && gtids.includes(String((json(m.value) as { payload: { id: string } }).payload.id));
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
  assert.deepEqual(
    rows.map((m) => (json(m.key) as { payload: { id: number } }).payload.id),
    [1, 2, 1, 2, 2, 3, 3, 1, 1],
  );
  const values = rows.map((m) => json(m.value) as Envelope | null);
  assert.deepEqual(
    values.map((v) => v?.payload.op ?? "tombstone"),
    ["c", "c", "u", "d", "tombstone", "c", "u", "d", "tombstone"],
  );
  assert.match(
    values[0]!.schema.name,
    new RegExp(`^${env.SHADOWDB_MY_TOPIC_PREFIX}\\.prod\\.${table}\\.Envelope$`),
  );
  assert.deepEqual(values[0]!.payload.after, { id: 1, name: "one", qty: 1 });
  // binlog_row_image=FULL: updates and deletes carry the whole previous row.
  assert.deepEqual(values[2]!.payload.before, { id: 1, name: "one", qty: 1 });
  assert.deepEqual(values[2]!.payload.after, { id: 1, name: "one", qty: 10 });
  assert.deepEqual(values[3]!.payload.before, { id: 2, name: "two", qty: 2 });
  assert.equal(values[3]!.payload.after, null);
  assert.equal(rows[4]!.value, null, "a tombstone follows the delete");
  assert.deepEqual(values[7]!.payload.before, { id: 1, name: "one", qty: 10 });
  assert.equal(values[0]!.payload.source.table, table);
  assert.equal(values[0]!.payload.source.db, "prod");

  const eventTx = values.filter((v) => v !== null).map((v) => v.payload.transaction!.id);
  assert.deepEqual(eventTx, [gtids[0], gtids[0], gtids[1], gtids[2], gtids[3], gtids[3], gtids[3]]);
  assert.deepEqual(
    values
      .filter((v) => v?.payload.transaction?.id === gtids[3])
      .map((v) => v!.payload.transaction!.total_order),
    [1, 2, 3],
  );

  const markers = messages
    .filter(ourTx)
    .map((m) => (json(m.value) as { payload: Record<string, unknown> }).payload);
  for (const [i, gtid] of gtids.entries()) {
    const mine = markers.filter((p) => p.id === gtid);
    assert.deepEqual(
      mine.map((p) => p.status),
      ["BEGIN", "END"],
      `transaction ${i} has BEGIN then END`,
    );
    assert.equal(mine[1]!.event_count, [2, 1, 1, 3][i]);
    assert.deepEqual(mine[1]!.data_collections, [
      { data_collection: `prod.${table}`, event_count: [2, 1, 1, 3][i] },
    ]);
  }
});
