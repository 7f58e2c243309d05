/**
 * Dead-letter accounting across an interrupted batch, on the real PostgreSQL and Kafka: the shadow
 * refuses one row for good, so the batch goes record by record and commits its letters one at a
 * time; then the last record meets a serialization failure (retriable) and the batch is retried
 * from the stored position. Every letter committed before the interruption is counted, once, and
 * none is stored twice. Before ApplyContext.onDeadLetters, those letters were stored but never
 * logged or counted (the interrupted batch returned no result).
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, test } from "node:test";
import pg from "pg";
import { services } from "../support/env.ts";
import { readFixture, tableRecords } from "../support/fixtures.ts";
import { kafkaClient } from "../support/kafka.ts";
import { eventually, startMaterializer } from "../support/materialize.ts";

const suffix = randomBytes(4).toString("hex");
const table = `hb_interrupted_${suffix}`;
const topic = `hb_interrupted_${suffix}`;
const group = `hb-${suffix}-interrupted`;
const letters = `hb_interrupted_${suffix}_dl`;
// Recorded: creates of ids 1-3, then updates; (1, qty 11) at offset 8, (2, qty 3) last at offset 9.
const good = tableRecords(readFixture("postgres/default/update.json"));
/** The record cut short, as a broken producer would leave it. */
const undecodable = (i: number) => good[i]!.value!.subarray(0, 40);
const messages = [
  good[0]!,
  { key: good[0]!.key, value: undecodable(0) },
  good[1]!,
  good[2]!,
  { key: good[2]!.key, value: undecodable(2) },
  ...good.slice(3),
].map((m) => ({ key: m.key, value: m.value }));
let shadow: pg.Client;

before(async () => {
  const env = await services();
  shadow = new pg.Client({ connectionString: env.SHADOWDB_PG_SHADOW_URL });
  await shadow.connect();
  // The shadow refuses qty 11 for good; the first write of (2, qty 3) meets a serialization
  // failure, as a concurrent transaction of the application would cause (a sequence keeps count
  // across the rolled-back attempts).
  await shadow.query(`CREATE SEQUENCE ${table}_attempts`);
  await shadow.query(
    `CREATE TABLE ${table} (id int PRIMARY KEY, name text NOT NULL, qty int CHECK (qty <> 11), note text)`,
  );
  await shadow.query(`CREATE FUNCTION ${table}_conflict() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF NEW.id = 2 AND NEW.qty = 3 AND nextval('${table}_attempts') = 1 THEN
        RAISE EXCEPTION 'could not serialize access' USING ERRCODE = '40001';
      END IF;
      RETURN NEW;
    END $$`);
  await shadow.query(
    `CREATE TRIGGER conflict BEFORE INSERT OR UPDATE ON ${table} FOR EACH ROW EXECUTE FUNCTION ${table}_conflict()`,
  );
  // shadowdb applies production's changes as a replica: only ALWAYS triggers fire.
  await shadow.query(`ALTER TABLE ${table} ENABLE ALWAYS TRIGGER conflict`);
  const kafka = kafkaClient(env.SHADOWDB_KAFKA_BROKERS);
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
  await admin.disconnect();
  const producer = kafka.producer();
  await producer.connect();
  await producer.send({ topic, messages });
  await producer.disconnect();
});

after(async () => {
  const env = await services();
  const admin = kafkaClient(env.SHADOWDB_KAFKA_BROKERS).admin();
  await admin.connect();
  await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
  await admin.disconnect();
  await shadow.query(`DROP TABLE IF EXISTS ${table}, ${letters}`);
  await shadow.query(`DROP FUNCTION IF EXISTS ${table}_conflict()`);
  await shadow.query(`DROP SEQUENCE IF EXISTS ${table}_attempts`);
  await shadow.query("DELETE FROM shadowdb_positions WHERE group_id = $1", [group]);
  await shadow.end();
});

test("letters committed record by record before a retriable failure are counted once and stored once", async () => {
  const env = await services();
  const running = await startMaterializer(`
kafka: { brokers: "${env.SHADOWDB_KAFKA_BROKERS}", groupId: "${group}", fromBeginning: true }
target: { dialect: postgres, url: "${env.SHADOWDB_PG_SHADOW_URL}" }
tables: [ { topic: "${topic}", table: "public.${table}" } ]
deadLetter: { table: "public.${letters}" }
http: { port: 0 }
`);
  try {
    await eventually(
      "every record past",
      async () => {
        const { rows } = await shadow.query(
          `SELECT next_offset::text AS n FROM shadowdb_positions WHERE group_id = $1`,
          [group],
        );
        return rows[0]?.n === String(messages.length) ? true : `position ${rows[0]?.n ?? "none"}`;
      },
      90_000,
      running,
    );
  } finally {
    await running.stop();
  }
  const { rows: stored } = await shadow.query(
    `SELECT kafka_offset::text AS "offset", code FROM ${letters} WHERE group_id = $1 ORDER BY id`,
    [group],
  );
  assert.deepEqual(
    stored.map((l) => [l.offset, l.code]),
    [
      ["1", "DECODE_MALFORMED_JSON"],
      ["4", "DECODE_MALFORMED_JSON"],
      ["8", "TARGET_CONSTRAINT"],
    ],
    "each letter stored once",
  );
  const { stats } = running.materializer;
  assert.ok(stats.retries >= 1, "the batch was interrupted and retried");
  assert.equal(stats.deadLetters, stored.length, "every stored letter counted, once");
  const { rows } = await shadow.query(`SELECT id, qty FROM ${table} ORDER BY id`);
  assert.deepEqual(
    rows.map((r) => [r.id, r.qty]),
    [
      [1, 10],
      [2, 3],
      [3, 4],
    ],
  );
});
