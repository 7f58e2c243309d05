/**
 * The real pipeline, PostgreSQL → Debezium → Kafka: what shadowdb will consume, asserted as it
 * arrives (keys, envelopes, tombstones, transaction BEGIN/END).
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, test } from "node:test";
import pg from "pg";
import { services } from "../support/env.ts";
import { collect, json, kafkaClient, type RawMessage, waitForTopic } from "../support/kafka.ts";

interface Envelope {
  schema: { name: string };
  payload: {
    op: string;
    before: Record<string, unknown> | null;
    after: Record<string, unknown> | null;
    source: { db: string; schema: string; table: string; txId: number };
    transaction: { id: string; total_order: number; data_collection_order: number } | null;
  };
}

const table = `smoke_${randomBytes(4).toString("hex")}`;
let db: pg.Client;

before(async () => {
  const env = await services();
  db = new pg.Client({ connectionString: env.SHADOWDB_PG_PROD_URL });
  await db.connect();
});

after(async () => {
  await db?.query(`DROP TABLE IF EXISTS ${table}`);
  await db?.end();
});

async function transaction(statements: string[]): Promise<string> {
  await db.query("BEGIN");
  const { rows } = await db.query<{ xid: string }>("SELECT txid_current()::text AS xid");
  for (const sql of statements) await db.query(sql);
  await db.query("COMMIT");
  return rows[0]!.xid;
}

test("PostgreSQL changes arrive as Debezium events with keys, tombstones and transaction markers", async () => {
  const env = await services();
  const kafka = kafkaClient(env.SHADOWDB_KAFKA_BROKERS);
  await db.query(`CREATE TABLE ${table} (id int PRIMARY KEY, name text NOT NULL, qty int)`);

  const xids = [
    await transaction([`INSERT INTO ${table} VALUES (1, 'one', 1), (2, 'two', 2)`]),
    await transaction([`UPDATE ${table} SET qty = 10 WHERE id = 1`]),
    await transaction([`DELETE FROM ${table} WHERE id = 2`]),
    await transaction([
      `INSERT INTO ${table} VALUES (3, 'three', 3)`,
      `UPDATE ${table} SET name = 'THREE' WHERE id = 3`,
      `DELETE FROM ${table} WHERE id = 1`,
    ]),
  ];

  const topic = `${env.SHADOWDB_PG_TOPIC_PREFIX}.public.${table}`;
  const txTopic = `${env.SHADOWDB_PG_TOPIC_PREFIX}.transaction`;
  await waitForTopic(kafka, topic);
  const ourTx = (m: RawMessage) =>
    m.topic === txTopic &&
    xids.includes(String((json(m.value) as { payload: { id: string } }).payload.id).split(":")[0]!);
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
    new RegExp(`^${env.SHADOWDB_PG_TOPIC_PREFIX}\\.public\\.${table}\\.Envelope$`),
  );
  assert.deepEqual(values[0]!.payload.after, { id: 1, name: "one", qty: 1 });
  assert.equal(values[0]!.payload.before, null);
  assert.deepEqual(values[2]!.payload.after, { id: 1, name: "one", qty: 10 });
  // Default replica identity: a delete's before-image carries the key only.
  assert.deepEqual(values[3]!.payload.before, { id: 2, name: "", qty: null });
  assert.equal(values[3]!.payload.after, null);
  assert.equal(rows[4]!.value, null, "a tombstone follows the delete");
  assert.deepEqual(values[6]!.payload.after, { id: 3, name: "THREE", qty: 3 });
  assert.equal(values[0]!.payload.source.table, table);
  assert.equal(values[0]!.payload.source.db, "prod");

  // Every data event names its transaction; the xid before ':' groups them.
  const eventXids = values.filter((v) => v !== null).map((v) => v.payload.transaction!.id.split(":")[0]);
  assert.deepEqual(eventXids, [xids[0], xids[0], xids[1], xids[2], xids[3], xids[3], xids[3]]);
  assert.deepEqual(
    values
      .filter((v) => v?.payload.transaction?.id.startsWith(`${xids[3]}:`))
      .map((v) => v!.payload.transaction!.total_order),
    [1, 2, 3],
  );

  const markers = messages
    .filter(ourTx)
    .map((m) => (json(m.value) as { payload: Record<string, unknown> }).payload);
  for (const [i, xid] of xids.entries()) {
    const mine = markers.filter((p) => String(p.id).startsWith(`${xid}:`));
    assert.deepEqual(
      mine.map((p) => p.status),
      ["BEGIN", "END"],
      `transaction ${i} has BEGIN then END`,
    );
    assert.equal(mine[1]!.event_count, [2, 1, 1, 3][i]);
    assert.deepEqual(mine[1]!.data_collections, [
      { data_collection: `public.${table}`, event_count: [2, 1, 1, 3][i] },
    ]);
  }
});
