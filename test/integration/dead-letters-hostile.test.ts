/**
 * Records whose dead letters quote what no store's text column takes as it is, on the real
 * PostgreSQL and MariaDB and the real Kafka: a value starting with byte 0x00 (a schema registry's
 * frame), a value of invalid UTF-8, field names holding a NUL, a lone surrogate or an emoji, and a
 * 100,000-character field name. They are produced onto a topic of the test's own between the
 * records of a recorded Debezium batch. shadowdb keeps running, stores and counts each letter with
 * its raw bytes unchanged, and applies the records around them; a store that refuses letters gets
 * them reduced or, refused again, skipped and counted as DEAD_LETTER_UNSTORABLE.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, test } from "node:test";
import { connectMariadb, connectPostgres } from "../support/engines.ts";
import { services } from "../support/env.ts";
import { readFixture, tableRecords } from "../support/fixtures.ts";
import { collect, kafkaClient, type RawMessage } from "../support/kafka.ts";
import { eventually, type Running, startMaterializer } from "../support/materialize.ts";

const suffix = randomBytes(4).toString("hex");
const fixture = readFixture("postgres/default/update.json");
const good = tableRecords(fixture);
const text = good[0]!.value!.toString("utf8");
const QTY = '"type":"int32","optional":true,"field":"qty"';
/** The recorded value with its `qty` field renamed and made required: the payload lacks it. */
const renamed = (name: string) =>
  Buffer.from(text.replaceAll(QTY, `"type":"int32","optional":false,"field":${JSON.stringify(name)}`));

const hostile: Record<string, Buffer> = {
  registryFrame: Buffer.concat([Buffer.from([0, 0, 0, 0, 1]), good[0]!.value!]),
  invalidUtf8: Buffer.concat([Buffer.from([0xff, 0xfe, 0xc3]), good[0]!.value!]),
  nulField: renamed("q\u0000ty"),
  loneSurrogate: Buffer.from(
    text.replaceAll(QTY, '"type":"int32","optional":false,"field":"q\\ud800ty"'),
    "utf8",
  ),
  emojiField: renamed("q😀ty"),
  longField: renamed("q".repeat(100_000)),
};
const names = Object.keys(hostile);
/** Decoding refuses each early, with its own code: bytes that are no JSON text, names no column has. */
const expectedCode: Record<string, string> = {
  registryFrame: "DECODE_MALFORMED_JSON",
  invalidUtf8: "DECODE_BAD_UTF8",
  nulField: "DECODE_BAD_SCHEMA",
  loneSurrogate: "DECODE_SCHEMA_MISMATCH",
  emojiField: "DECODE_SCHEMA_MISMATCH",
  longField: "DECODE_BAD_SCHEMA",
};

/** The recorded batch with a hostile record after each of its first records. */
const messages = good.flatMap((record, i) => {
  const bad = names[i];
  const own = { key: record.key, value: record.value };
  return bad ? [own, { key: record.key, value: hostile[bad]! }] : [own];
});
/** The offset each hostile record lands on (the topic is new: offsets count from 0). */
const offsetOf = (name: string) => String(2 * names.indexOf(name) + 1);

const engines = {
  postgres: {
    dialect: "postgres",
    schema: "public",
    url: (env: Awaited<ReturnType<typeof services>>) => env.SHADOWDB_PG_SHADOW_URL,
    connect: connectPostgres,
    param: (n: number) => `$${n}`,
    offsetText: "kafka_offset::text",
    strictMessage: "message text NOT NULL",
  },
  mariadb: {
    dialect: "mysql",
    schema: "shadow",
    url: (env: Awaited<ReturnType<typeof services>>) => env.SHADOWDB_MY_SHADOW_URL,
    connect: connectMariadb,
    param: (_n: number) => "?",
    offsetText: "CAST(kafka_offset AS CHAR)",
    // A legacy character set: latin1 cannot hold an emoji.
    strictMessage: "message text CHARACTER SET latin1 NOT NULL",
  },
} as const;

const topics: string[] = [];

before(async () => {
  const env = await services();
  const admin = kafkaClient(env.SHADOWDB_KAFKA_BROKERS).admin();
  await admin.connect();
  try {
    for (const engine of Object.keys(engines)) topics.push(`hb_letters_${suffix}_${engine}`);
    await admin.createTopics({
      topics: topics.map((topic) => ({ topic, numPartitions: 1 })),
      waitForLeaders: true,
    });
  } finally {
    await admin.disconnect();
  }
  const producer = kafkaClient(env.SHADOWDB_KAFKA_BROKERS).producer();
  await producer.connect();
  try {
    for (const topic of topics) await producer.send({ topic, messages });
  } finally {
    await producer.disconnect();
  }
});

after(async () => {
  const env = await services();
  const admin = kafkaClient(env.SHADOWDB_KAFKA_BROKERS).admin();
  await admin.connect();
  const existing = await admin.listTopics();
  await admin
    .deleteTopics({
      topics: existing.filter(
        (t) => t.startsWith(`hb_letters_${suffix}`) || t.startsWith(`hb_dlq_${suffix}`),
      ),
    })
    .catch(() => undefined);
  await admin.disconnect();
  for (const e of Object.values(engines)) {
    const db = await e.connect(e.url(env));
    for (const table of ["", "_dl", "_strict"])
      await db.query(`DROP TABLE IF EXISTS ${e.schema}.hb_letters_${suffix}${table}`);
    await db.query(`DELETE FROM shadowdb_positions WHERE group_id LIKE ${e.param(1)}`, [`hb-${suffix}%`]);
    await db
      .query(`DELETE FROM shadowdb_dlq_outbox WHERE group_id LIKE ${e.param(1)}`, [`hb-${suffix}%`])
      .catch(() => undefined);
    await db.end();
  }
});

function config(
  engine: keyof typeof engines,
  url: string,
  brokers: string,
  group: string,
  deadLetter: string,
) {
  const e = engines[engine];
  return `
kafka: { brokers: "${brokers}", groupId: "${group}", fromBeginning: true }
target: { dialect: ${e.dialect}, url: "${url}" }
tables: [ { topic: "hb_letters_${suffix}_${engine}", table: "${e.schema}.hb_letters_${suffix}" } ]
deadLetter: ${deadLetter}
http: { port: 0 }
`;
}

interface StoredLetter {
  offset: string;
  code: string;
  message: string;
  record_value: Buffer;
}

async function storedLetters(engine: keyof typeof engines, url: string, table: string, group: string) {
  const e = engines[engine];
  const db = await e.connect(url);
  try {
    const { rows } = await db.query(
      `SELECT ${e.offsetText} AS at_offset, code, message, record_value FROM ${e.schema}.${table}
        WHERE group_id = ${e.param(1)} ORDER BY kafka_offset`,
      [group],
    );
    return rows.map((r) => ({ ...r, offset: String(r.at_offset) })) as unknown as StoredLetter[];
  } finally {
    await db.end();
  }
}

/** Waits until the shadow holds the recorded batch's rows and the stats reach `letters`. */
async function untilApplied(
  engine: keyof typeof engines,
  url: string,
  running: Running,
  letters: { deadLetters: number; unstorableLetters: number },
) {
  const e = engines[engine];
  const expected = JSON.stringify(
    [...(fixture.sourceRows ?? [])].sort((a, b) => Number(a.id) - Number(b.id)).map((r) => [r.id, r.qty]),
  );
  await eventually(
    "good rows applied and letters counted",
    async () => {
      const db = await e.connect(url);
      try {
        const { rows } = await db
          .query(`SELECT id, qty FROM ${e.schema}.hb_letters_${suffix} ORDER BY id`)
          .catch(() => ({ rows: [] as Record<string, unknown>[] }));
        const seen = JSON.stringify(rows.map((r) => [String(r.id), r.qty === null ? null : String(r.qty)]));
        const { deadLetters, unstorableLetters } = running.materializer.stats;
        return seen === expected &&
          deadLetters === letters.deadLetters &&
          unstorableLetters === letters.unstorableLetters
          ? true
          : `${seen}, ${deadLetters} letters, ${unstorableLetters} unstorable`;
      } finally {
        await db.end();
      }
    },
    90_000,
    running,
  );
}

function assertMessages(letters: { offset: string; message: string }[]) {
  const byName = (name: string) => letters.find((l) => l.offset === offsetOf(name))!.message;
  for (const l of letters) {
    assert.ok(!l.message.includes("\u0000"), `${l.offset}: no NUL`);
    assert.ok((l.message as string & { isWellFormed(): boolean }).isWellFormed(), `${l.offset}: well-formed`);
    assert.ok(l.message.length <= 8192, `${l.offset}: bounded`);
  }
  assert.match(byName("registryFrame"), /Unexpected token '\\u0000'/);
  assert.match(byName("invalidUtf8"), /the value is not valid UTF-8/);
  assert.match(byName("nulField"), /field name "q\\+u0000ty" holds a control character/);
  assert.match(byName("loneSurrogate"), /after\.q\\ud800ty/);
  assert.match(byName("emojiField"), /after\.q😀ty/);
  assert.match(
    byName("longField"),
    /field name "q+… \(99920 more characters\)" is longer than 64 characters/,
  );
}

for (const engine of Object.keys(engines) as (keyof typeof engines)[]) {
  const e = engines[engine];

  test(`${engine}: letters quoting NUL, invalid UTF-8, lone surrogates, emoji and a 100k-character name are stored, counted, with their bytes; the records around them applied`, async () => {
    const env = await services();
    const url = e.url(env);
    const group = `hb-${suffix}-${engine}-table`;
    const table = `hb_letters_${suffix}_dl`;
    const running = await startMaterializer(
      config(engine, url, env.SHADOWDB_KAFKA_BROKERS, group, `{ table: "${e.schema}.${table}" }`),
    );
    try {
      await untilApplied(engine, url, running, { deadLetters: names.length, unstorableLetters: 0 });
      running.assertAlive();
    } finally {
      await running.stop();
    }
    const letters = await storedLetters(engine, url, table, group);
    assert.deepEqual(
      letters.map((l) => [l.offset, l.code]),
      names.map((name) => [offsetOf(name), expectedCode[name]]),
    );
    for (const name of names)
      assert.deepEqual(
        letters.find((l) => l.offset === offsetOf(name))!.record_value,
        hostile[name],
        `${name}: the raw bytes, unchanged`,
      );
    assertMessages(letters);
    assert.equal(running.materializer.stats.deadLetters, letters.length, "every stored letter counted once");
  });

  test(`${engine}: the topic store sends the same letters, bytes as produced and the escaped text in the headers`, async () => {
    const env = await services();
    const url = e.url(env);
    const group = `hb-${suffix}-${engine}-topic`;
    const dlq = `hb_dlq_${suffix}_${engine}`;
    const running = await startMaterializer(
      config(engine, url, env.SHADOWDB_KAFKA_BROKERS, group, `{ topic: "${dlq}" }`),
    );
    try {
      await untilApplied(engine, url, running, { deadLetters: names.length, unstorableLetters: 0 });
      await eventually(
        "the outbox emptied",
        async () => {
          const left = await storedLetters(engine, url, "shadowdb_dlq_outbox", group);
          return left.length === 0 ? true : `${left.length} waiting`;
        },
        60_000,
        running,
      );
    } finally {
      await running.stop();
    }
    const sent: RawMessage[] = await collect(
      kafkaClient(env.SHADOWDB_KAFKA_BROKERS),
      [dlq],
      (m) => m.length >= names.length,
    );
    assert.deepEqual(
      sent.map((m) => String(m.headers["shadowdb.source.offset"])),
      names.map(offsetOf),
    );
    for (const [i, name] of names.entries()) assert.deepEqual(sent[i]!.value, hostile[name], name);
    assertMessages(
      sent.map((m) => ({
        offset: String(m.headers["shadowdb.source.offset"]),
        message: String(m.headers["shadowdb.error.message"]),
      })),
    );
  });

  test(`${engine}: a letter larger than its topic takes goes without its bytes, saying so; the letters after it are not held back`, async () => {
    const env = await services();
    const url = e.url(env);
    const group = `hb-${suffix}-${engine}-small`;
    const dlq = `hb_dlq_${suffix}_${engine}_small`;
    const admin = kafkaClient(env.SHADOWDB_KAFKA_BROKERS).admin();
    await admin.connect();
    // The long field name's record is some 100 kB; the others a few.
    await admin.createTopics({
      topics: [
        { topic: dlq, numPartitions: 1, configEntries: [{ name: "max.message.bytes", value: "20000" }] },
      ],
      waitForLeaders: true,
    });
    await admin.disconnect();
    const running = await startMaterializer(
      config(engine, url, env.SHADOWDB_KAFKA_BROKERS, group, `{ topic: "${dlq}" }`),
    );
    try {
      await untilApplied(engine, url, running, { deadLetters: names.length, unstorableLetters: 0 });
      await eventually(
        "the outbox emptied",
        async () => {
          const left = await storedLetters(engine, url, "shadowdb_dlq_outbox", group);
          return left.length === 0 ? true : `${left.length} waiting`;
        },
        60_000,
        running,
      );
    } finally {
      await running.stop();
    }
    const sent = await collect(
      kafkaClient(env.SHADOWDB_KAFKA_BROKERS),
      [dlq],
      (m) => m.length >= names.length,
    );
    assert.deepEqual(
      sent.map((m) => String(m.headers["shadowdb.source.offset"])),
      names.map(offsetOf),
    );
    for (const [i, name] of names.entries()) {
      const dropped = sent[i]!.headers["shadowdb.record.dropped"];
      if (name === "longField") {
        assert.equal(sent[i]!.value, null);
        assert.equal(
          String(dropped),
          `MESSAGE_TOO_LARGE: key ${good[0]!.key!.length} bytes, value ${hostile[name]!.length} bytes`,
        );
      } else {
        assert.deepEqual(sent[i]!.value, hostile[name], name);
        assert.equal(dropped, undefined, name);
      }
    }
  });

  test(`${engine}: a store that refuses letters gets them reduced, or skips their records counted as DEAD_LETTER_UNSTORABLE; shadowdb keeps running`, async () => {
    const env = await services();
    const url = e.url(env);
    const group = `hb-${suffix}-${engine}-strict`;
    const table = `hb_letters_${suffix}_strict`;
    const db = await e.connect(url);
    const [bigint, bytes, text64] =
      engine === "postgres"
        ? ["bigserial PRIMARY KEY", "bytea", "text"]
        : ["bigint NOT NULL AUTO_INCREMENT PRIMARY KEY", "longblob", "varchar(255)"];
    // shadowdb's own columns, made by someone else: long messages and the two codes of bytes that
    // are no JSON text refused.
    await db.query(`CREATE TABLE ${e.schema}.${table} (
      id ${bigint}, group_id ${text64} NOT NULL, topic ${text64} NOT NULL, ${engine === "postgres" ? '"partition"' : "`partition`"} integer NOT NULL,
      kafka_offset bigint NOT NULL, record_key ${bytes}, record_value ${bytes}, code ${text64} NOT NULL,
      ${e.strictMessage}, created_at timestamp${engine === "postgres" ? "tz" : "(6)"} NOT NULL DEFAULT CURRENT_TIMESTAMP,
      CHECK (char_length(message) < 200 AND code NOT IN ('DECODE_MALFORMED_JSON', 'DECODE_BAD_UTF8')))`);
    await db.end();
    const running = await startMaterializer(
      config(engine, url, env.SHADOWDB_KAFKA_BROKERS, group, `{ table: "${e.schema}.${table}" }`),
    );
    // The framed and the invalid UTF-8 records skipped; the long name reduced (and on MariaDB the emoji).
    try {
      await untilApplied(engine, url, running, { deadLetters: names.length - 2, unstorableLetters: 2 });
      running.assertAlive();
    } finally {
      await running.stop();
    }
    const letters = await storedLetters(engine, url, table, group);
    const reduced = (code: string) =>
      `the store refused this letter's message (${code}); shadowdb's log has it`;
    assert.deepEqual(
      letters.map((l) => [l.offset, l.message.startsWith("the store refused") ? l.message : "whole"]),
      [
        [offsetOf("nulField"), "whole"],
        [offsetOf("loneSurrogate"), "whole"],
        [offsetOf("emojiField"), engine === "postgres" ? "whole" : reduced("TARGET_DATA")],
        [offsetOf("longField"), reduced("TARGET_CONSTRAINT")],
      ],
    );
    for (const l of letters) {
      const name = names.find((n) => offsetOf(n) === l.offset)!;
      assert.deepEqual(l.record_value, hostile[name], `${name}: raw bytes kept, reduced or not`);
    }
  });
}
