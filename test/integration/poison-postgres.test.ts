/**
 * Bad records never stop the world and never vanish: an undecodable message and a row the shadow
 * refuses both go to the dead-letter table with their coordinates, raw bytes and error code, while
 * every other change is applied. With onError: stop, the first one halts the materializer instead.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, test } from "node:test";
import pg from "pg";
import { services } from "../support/env.ts";
import { collect, kafkaClient, type RawMessage, waitForTopic } from "../support/kafka.ts";
import { eventually, startMaterializer } from "../support/materialize.ts";
import { uninstallOverlays } from "../support/overlay.ts";

const suffix = randomBytes(4).toString("hex");
const table = `poison_${suffix}`;
let prod: pg.Client;
let shadow: pg.Client;

before(async () => {
  const env = await services();
  prod = new pg.Client({ connectionString: env.SHADOWDB_PG_PROD_URL });
  shadow = new pg.Client({ connectionString: env.SHADOWDB_PG_SHADOW_URL });
  await prod.connect();
  await shadow.connect();
  await prod.query(`CREATE TABLE ${table} (id int PRIMARY KEY, qty int NOT NULL)`);
  // The shadow's newer schema is stricter than production: some production rows will not fit.
  await shadow.query(`CREATE TABLE ${table} (id int PRIMARY KEY, qty int NOT NULL CHECK (qty < 1000))`);
});

after(async () => {
  const env = await services();
  await uninstallOverlays("postgres", env.SHADOWDB_PG_SHADOW_URL, [{ schema: "public", name: table }]);
  for (const c of [prod, shadow]) {
    await c?.query(`DROP TABLE IF EXISTS ${table}`);
    await c
      ?.query("DELETE FROM shadowdb_positions WHERE group_id LIKE $1", [`test-${suffix}%`])
      .catch(() => undefined);
    await c
      ?.query("DELETE FROM shadowdb_dead_letters WHERE group_id LIKE $1", [`test-${suffix}%`])
      .catch(() => undefined);
    await c?.end();
  }
});

const config = (
  group: string,
  topic: string,
  url: string,
  brokers: string,
  onError = "dlq",
  deadLetter = '{ table: "public.shadowdb_dead_letters" }',
) => `
kafka: { brokers: "${brokers}", groupId: "${group}" }
target: { dialect: postgres, url: "${url}" }
tables: [ { topic: "${topic}", table: "public.${table}" } ]
deadLetter: ${deadLetter}
onError: ${onError}
http: { port: 0 }
`;

test("an undecodable record and a refused row become dead letters; the rest is applied", async () => {
  const env = await services();
  const kafka = kafkaClient(env.SHADOWDB_KAFKA_BROKERS);
  const topic = `${env.SHADOWDB_PG_TOPIC_PREFIX}.public.${table}`;
  await prod.query(`INSERT INTO ${table} VALUES (1, 10), (2, 20)`);
  await waitForTopic(kafka, topic);
  // Not Debezium's doing: a broken producer writing to the same topic.
  const producer = kafka.producer();
  await producer.connect();
  const [sent] = await producer.send({
    topic,
    messages: [{ key: null, value: '{"schema": {"type": "struct", "fie' }],
  });
  await producer.disconnect();
  await prod.query(`INSERT INTO ${table} VALUES (3, 5000), (4, 40)`);
  await prod.query(`UPDATE ${table} SET qty = 11 WHERE id = 1`);

  const running = await startMaterializer(
    config(`test-${suffix}`, topic, env.SHADOWDB_PG_SHADOW_URL, env.SHADOWDB_KAFKA_BROKERS),
  );
  try {
    await eventually(
      "good rows applied",
      async () => {
        const { rows } = await shadow.query(`SELECT id, qty FROM ${table} ORDER BY id`);
        const text = JSON.stringify(rows);
        return text ===
          JSON.stringify([
            { id: 1, qty: 11 },
            { id: 2, qty: 20 },
            { id: 4, qty: 40 },
          ])
          ? true
          : text;
      },
      90_000,
      running,
    );
  } finally {
    await running.stop();
  }
  const { rows: letters } = await shadow.query(
    `SELECT topic, "partition", kafka_offset::text AS "offset", code, record_value FROM shadowdb_dead_letters
      WHERE group_id = $1 ORDER BY kafka_offset`,
    [`test-${suffix}`],
  );
  assert.deepEqual(
    letters.map((l) => [l.topic, l.code]),
    [
      [topic, "DECODE_MALFORMED_JSON"],
      [topic, "TARGET_CONSTRAINT"],
    ],
  );
  assert.equal(letters[0].offset, sent!.baseOffset, "the coordinates of the bad record");
  assert.equal(letters[0].record_value.toString(), '{"schema": {"type": "struct", "fie', "its raw bytes");
  assert.match(letters[1].record_value.toString(), /"qty":5000/);
  assert.equal(running.materializer.stats.deadLetters, 2);
});

test("with a topic store each bad record reaches the topic once, through the outbox", async () => {
  const env = await services();
  const kafka = kafkaClient(env.SHADOWDB_KAFKA_BROKERS);
  const topic = `${env.SHADOWDB_PG_TOPIC_PREFIX}.public.${table}`;
  const group = `test-${suffix}-topic`;
  const dlq = `test-${suffix}.dlq`;
  // The same records as the first test, read again by another group: the refused row sends the
  // batch record by record after the undecodable one was already set aside in the batch attempt.
  const running = await startMaterializer(
    config(
      group,
      topic,
      env.SHADOWDB_PG_SHADOW_URL,
      env.SHADOWDB_KAFKA_BROKERS,
      "dlq",
      `{ topic: "${dlq}" }`,
    ),
  );
  try {
    await eventually(
      "both letters stored and sent",
      async () => {
        const n = running.materializer.stats.deadLetters;
        // The outbox appears when the materializer has prepared the target.
        const waiting = await shadow
          .query("SELECT count(*)::int AS n FROM shadowdb_dlq_outbox WHERE group_id = $1", [group])
          .then(({ rows }) => rows[0].n as number, String);
        return n === 2 && waiting === 0 ? true : `${n} set aside, ${waiting} waiting in the outbox`;
      },
      90_000,
      running,
    );
  } finally {
    await running.stop();
  }
  await waitForTopic(kafka, dlq);
  // Read well past the two letters: a duplicate would arrive with them.
  const letters = await collect(kafka, [dlq], () => false, 5_000).catch((error: unknown) => {
    const partial = (error as { messages?: RawMessage[] }).messages;
    if (partial) return partial;
    throw error;
  });
  assert.deepEqual(
    letters.map((l) => [
      String(l.headers["shadowdb.source.topic"]),
      String(l.headers["shadowdb.error.code"]),
    ]),
    [
      [topic, "DECODE_MALFORMED_JSON"],
      [topic, "TARGET_CONSTRAINT"],
    ],
  );
  assert.equal(letters[0]!.value?.toString(), '{"schema": {"type": "struct", "fie', "its raw bytes");
});

test("onError: stop halts at the first bad record without moving past it", async () => {
  const env = await services();
  const topic = `${env.SHADOWDB_PG_TOPIC_PREFIX}.public.${table}`;
  const group = `test-${suffix}-stop`;
  const running = await startMaterializer(
    config(group, topic, env.SHADOWDB_PG_SHADOW_URL, env.SHADOWDB_KAFKA_BROKERS, "stop"),
  );
  await eventually(
    "the materializer stopped",
    async () => {
      try {
        running.assertAlive();
        return "still running";
      } catch (error) {
        assert.match(String(error), /DECODE_MALFORMED_JSON|not valid JSON/);
        return true;
      }
    },
    60_000,
  );
  await running.stop().catch(() => undefined);
  const { rows } = await shadow.query(
    `SELECT count(*)::int AS n FROM shadowdb_dead_letters WHERE group_id = $1`,
    [group],
  );
  assert.equal(rows[0].n, 0, "nothing was set aside");
});
