/**
 * Hostile records on a real Debezium topic, end to end: each made from a record Debezium wrote
 * (or a bare object a broken producer sends), each set aside as a dead letter with its DECODE_*
 * code and its coordinates, none of them writing anything; the real changes around them apply.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, test } from "node:test";
import pg from "pg";
import { services } from "../support/env.ts";
import { collect, kafkaClient, waitForTopic } from "../support/kafka.ts";
import { eventually, startMaterializer } from "../support/materialize.ts";
import { uninstallOverlays } from "../support/overlay.ts";

const suffix = randomBytes(4).toString("hex");
const table = `a_hostile_${suffix}`;
const group = `test-a-${suffix}`;
let prod: pg.Client;
let shadow: pg.Client;

before(async () => {
  const env = await services();
  prod = new pg.Client({ connectionString: env.SHADOWDB_PG_PROD_URL });
  shadow = new pg.Client({ connectionString: env.SHADOWDB_PG_SHADOW_URL });
  await prod.connect();
  await shadow.connect();
  for (const c of [prod, shadow]) {
    await c.query(`CREATE TABLE ${table} (id int PRIMARY KEY, amount numeric(12,3), note text)`);
  }
});

after(async () => {
  const env = await services();
  await uninstallOverlays("postgres", env.SHADOWDB_PG_SHADOW_URL, [{ schema: "public", name: table }]);
  for (const c of [prod, shadow]) {
    await c?.query(`DROP TABLE IF EXISTS ${table}`);
    await c?.query("DELETE FROM shadowdb_positions WHERE group_id = $1", [group]).catch(() => undefined);
    await c?.query("DELETE FROM shadowdb_dead_letters WHERE group_id = $1", [group]).catch(() => undefined);
    await c?.end();
  }
});

test("hostile records become dead letters with their DECODE_* codes; nothing of them is written", async () => {
  const env = await services();
  const kafka = kafkaClient(env.SHADOWDB_KAFKA_BROKERS);
  const topic = `${env.SHADOWDB_PG_TOPIC_PREFIX}.public.${table}`;
  await prod.query(`INSERT INTO ${table} VALUES (1, 1.5, 'first')`);
  await waitForTopic(kafka, topic);
  const [real] = await collect(kafka, [topic], (m) => m.length >= 1);
  const value = real!.value!.toString();
  assert.match(value, /"note":"first"/);
  const amount = /"amount":"([^"]*)"/.exec(value)![1]!;

  // Each from Debezium's own record, broken in one way (what a broken or hostile producer sends).
  const hostile: { key: Buffer | null; value: Buffer; code: string }[] = [
    {
      key: null,
      value: Buffer.from('{"id": 7, "amount": 1, "note": "bare"}'),
      code: "DECODE_ENVELOPE_MISMATCH",
    },
    {
      key: Buffer.from(real!.key!.toString().replace('"payload":{"id":1}', '"payload":{"id":99}')),
      value: real!.value!,
      code: "DECODE_KEY_MISMATCH",
    },
    {
      key: real!.key,
      value: Buffer.concat([
        Buffer.from(value.slice(0, value.indexOf('"first"') + 2)),
        Buffer.from([0xff]),
        Buffer.from(value.slice(value.indexOf('"first"') + 2)),
      ]),
      code: "DECODE_BAD_UTF8",
    },
    {
      key: real!.key,
      value: Buffer.from(
        value.replace(`"amount":"${amount}"`, `"amount":"${Buffer.alloc(200_000, 0x7f).toString("base64")}"`),
      ),
      code: "DECODE_VALUE_TOO_LARGE",
    },
    {
      key: real!.key,
      value: Buffer.from(value.replace(`"amount":"${amount}"`, '"amount":"AS!s="')),
      code: "DECODE_BAD_VALUE",
    },
    {
      key: real!.key,
      value: Buffer.from(`${"[".repeat(100_000)}${"]".repeat(100_000)}`),
      code: "DECODE_TOO_DEEP",
    },
  ];
  const producer = kafka.producer();
  await producer.connect();
  const [sent] = await producer.send({ topic, messages: hostile.map(({ key, value }) => ({ key, value })) });
  await producer.disconnect();
  await prod.query(`INSERT INTO ${table} VALUES (2, 2.5, 'second')`);
  await prod.query(`UPDATE ${table} SET note = 'first, updated' WHERE id = 1`);

  const running = await startMaterializer(`
kafka: { brokers: "${env.SHADOWDB_KAFKA_BROKERS}", groupId: "${group}" }
target: { dialect: postgres, url: "${env.SHADOWDB_PG_SHADOW_URL}" }
tables: [ { topic: "${topic}", table: "public.${table}" } ]
deadLetter: { table: "public.shadowdb_dead_letters" }
onError: dlq
http: { port: 0 }
`);
  try {
    await eventually(
      "the real changes applied",
      async () => {
        const { rows } = await shadow.query(`SELECT id, amount::text, note FROM ${table} ORDER BY id`);
        const text = JSON.stringify(rows);
        const expected = JSON.stringify([
          { id: 1, amount: "1.500", note: "first, updated" },
          { id: 2, amount: "2.500", note: "second" },
        ]);
        return text === expected && running.materializer.stats.deadLetters === hostile.length ? true : text;
      },
      90_000,
      running,
    );
  } finally {
    await running.stop();
  }
  const { rows: letters } = await shadow.query(
    `SELECT kafka_offset::text AS "offset", code, message, record_value FROM shadowdb_dead_letters
      WHERE group_id = $1 ORDER BY kafka_offset`,
    [group],
  );
  assert.deepEqual(
    letters.map((l) => l.code),
    hostile.map((h) => h.code),
  );
  letters.forEach((letter, i) => {
    assert.equal(letter.offset, String(BigInt(sent!.baseOffset!) + BigInt(i)), "the record's coordinates");
    assert.ok(Buffer.from(letter.record_value).equals(hostile[i]!.value), "its raw bytes, unaltered");
    assert.ok(letter.message.length < 1200, `a bounded message: ${letter.message.length} characters`);
  });
  // Nothing of them reached the table: no id 7 or 99, no altered amount or note.
  const { rows } = await shadow.query(`SELECT count(*)::int AS n FROM ${table}`);
  assert.equal(rows[0].n, 2);
});
