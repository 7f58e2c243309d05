/**
 * bench/vs-sink: shadowdb against the Debezium JDBC sink connector, one after the other on the same
 * backlog. Production writes a pgbench-style stream (narrow rows like pgbench_accounts, or wide
 * rows with 20 columns): half inserts, 40 % updates, 10 % deletes. Debezium publishes it; then
 * shadowdb applies it into one database and the JDBC sink (upsert, deletes on, its batch size
 * tuned first on a smaller stream) into another, each timed from start until its position
 * reaches the topic's end. Both results are checked against production (count and sums).
 * Writes bench/results/vs-sink-<engine>.json and the headline ratio to bench/results/summary.json.
 * With rounds > 1 the two alternate (shadowdb, sink, shadowdb, sink…) on the same backlog, each
 * round into fresh tables, and the ratio is of the total times: the sink's rate moved by up to
 * 1.7x between single runs on this shared machine.
 * Usage: tsx bench/vs-sink.ts postgres|mariadb [changes=1000000] [narrow|wide] [tuning batch sizes] [rounds=1]
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { stackEnv } from "../stack/layout.ts";
import { kafkaClient, waitForTopic } from "../test/support/kafka.ts";
import {
  builtCli,
  type Db,
  type Engine,
  flushToDisk,
  memoryOf,
  openDb,
  startShadowdb,
  writeResults,
} from "./support.ts";

const engine: Engine = process.argv[2] === "mariadb" ? "mariadb" : "postgres";
const changes = Number(process.argv[3] ?? 1_000_000);
const shape = process.argv[4] === "wide" ? "wide" : "narrow";
const tuning = (process.argv[5] ?? "500,2000,5000").split(",").map(Number);
const rounds = Math.max(1, Number(process.argv[6] ?? 1));
const env = stackEnv();
const suffix = randomBytes(3).toString("hex");
const pg = engine === "postgres";
const cli = builtCli();
const tmp = mkdtempSync(path.join(tmpdir(), "bench-vs-sink-"));

const columns =
  shape === "narrow"
    ? "aid bigint PRIMARY KEY, bid int NOT NULL, abalance int NOT NULL, filler char(84) NOT NULL"
    : `aid bigint PRIMARY KEY, bid int NOT NULL, abalance int NOT NULL, ${Array.from(
        { length: 17 },
        (_, i) => `c${i} ${i % 3 === 0 ? "varchar(64)" : i % 3 === 1 ? "decimal(12,2)" : "bigint"} NOT NULL`,
      ).join(", ")}`;
const values = (g: string) =>
  shape === "narrow"
    ? `${g}, ${g} % 10, 0, ${pg ? `md5(${g}::text)` : `md5(${g})`}`
    : `${g}, ${g} % 10, 0, ${Array.from({ length: 17 }, (_, i) =>
        i % 3 === 0
          ? pg
            ? `md5((${g} + ${i})::text)`
            : `md5(${g} + ${i})`
          : i % 3 === 1
            ? `${g} / 7.0`
            : `${g} * ${i}`,
      ).join(", ")}`;

const prodUrl = pg ? env.SHADOWDB_PG_PROD_URL : env.SHADOWDB_MY_PROD_URL;
const shadowUrl = pg ? env.SHADOWDB_PG_SHADOW_URL : env.SHADOWDB_MY_SHADOW_URL;
const prod = await openDb(engine, prodUrl);
const shadow = await openDb(engine, shadowUrl);
await prod.run("CREATE DATABASE sinkbench").catch(() => undefined);
const sinkUrl = new URL(prodUrl);
sinkUrl.pathname = "/sinkbench";
const sink = await openDb(engine, sinkUrl.toString());
const kafka = kafkaClient(env.SHADOWDB_KAFKA_BROKERS);
const admin = kafka.admin();
await admin.connect();

const topicOf = (table: string) =>
  pg ? `${env.SHADOWDB_PG_TOPIC_PREFIX}.public.${table}` : `${env.SHADOWDB_MY_TOPIC_PREFIX}.prod.${table}`;

/** Production writes `n` changes to a fresh table; resolves once Debezium has published all of them. */
async function publish(table: string, n: number): Promise<{ topic: string; end: bigint; seconds: number }> {
  await prod.run(`CREATE TABLE ${table} (${columns})`);
  const inserts = Math.floor(n / 2);
  const updates = Math.floor(n * 0.4);
  const deletes = n - inserts - updates;
  const step = 50_000;
  const series = (from: number, to: number) =>
    pg
      ? `SELECT ${values("g")} FROM generate_series(${from}, ${to}) g`
      : `SELECT ${values("seq")} FROM seq_${from}_to_${to}`;
  const started = performance.now();
  for (let from = 1; from <= inserts; from += step)
    await prod.run(`INSERT INTO ${table} ${series(from, Math.min(inserts, from + step - 1))}`);
  // Every update changes its row: MySQL/MariaDB log no event for an update that changes nothing.
  for (let from = 1; from <= updates; from += step)
    await prod.run(
      `UPDATE ${table} SET abalance = abalance + 1 + aid % 97 WHERE aid BETWEEN ${from} AND ${Math.min(updates, from + step - 1)}`,
    );
  // Deletes from the far end, so updated and untouched rows both remain.
  await prod.run(`DELETE FROM ${table} WHERE aid > ${inserts - deletes}`);
  const topic = topicOf(table);
  await waitForTopic(kafka, topic);
  // Each delete is followed by its tombstone.
  const expected = BigInt(n + deletes);
  let end = 0n;
  while (end < expected) {
    end = (await admin.fetchTopicOffsets(topic)).reduce((sum, p) => sum + BigInt(p.high), 0n);
    await new Promise((r) => setTimeout(r, 500));
  }
  return { topic, end, seconds: (performance.now() - started) / 1000 };
}

/**
 * Lets the machine finish the background work a timed phase left, so that it does not fall into
 * the next one: the databases' (autovacuum of the rows just written and a checkpoint; InnoDB's
 * purge of their undo history), then the kernel's writeback of the dirty pages (flushToDisk).
 * Without it shadowdb, timed right after the publish, measured well below its rate on the same
 * backlog once the machine had settled, while the sink, timed minutes later, did not pay.
 */
async function settle(db: Db, table: string): Promise<number> {
  if (pg) {
    await db.run(`VACUUM ANALYZE ${table}`);
    await db.run("CHECKPOINT");
  } else {
    await db.run("SET GLOBAL innodb_max_purge_lag_wait = 0");
  }
  return flushToDisk();
}

const checksum = (table: string) =>
  `SELECT count(*) AS n, coalesce(sum(abalance), 0) AS s, coalesce(sum(bid), 0) AS b FROM ${table}`;

/**
 * shadowdb as it is deployed, like the sink in its Connect worker: the built `shadowdb run` in a
 * process of its own, so that its peak RSS is the kernel's high-water mark of that process alone,
 * not of the bench's (which holds the publish's and the tuning's sessions too).
 */
async function timeShadowdb(topic: string, table: string, end: bigint, roundIndex: number) {
  await shadow.run(`CREATE TABLE ${table} (${columns})`);
  const group = `bench-vs-${suffix}-${table}-${roundIndex}`;
  const configFile = path.join(tmp, `${table}-${roundIndex}.yaml`);
  writeFileSync(
    configFile,
    `
kafka: { brokers: "${env.SHADOWDB_KAFKA_BROKERS}", groupId: "${group}" }
target: { dialect: ${pg ? "postgres" : "mysql"}, url: "${shadowUrl}" }
tables: [ { topic: "${topic}", table: "${pg ? "public" : "shadow"}.${table}" } ]
overlay: { enabled: false }
deadLetter: { table: "${pg ? "public" : "shadow"}.shadowdb_dead_letters" }
http: { port: 0 }
log: { level: warn }
`,
  );
  const started = performance.now();
  const child = startShadowdb(cli, configFile);
  while ((await shadow.position(group)) < end) {
    if (!child.alive()) throw new Error("shadowdb run exited before applying the backlog");
    await new Promise((r) => setTimeout(r, 100));
  }
  const seconds = (performance.now() - started) / 1000;
  const { peakMiB: peakRssMiB } = memoryOf(child.pid);
  await child.stop();
  await shadow.run(`DELETE FROM shadowdb_positions WHERE group_id = '${group}'`);
  return { seconds, peakRssMiB, check: await shadow.one(checksum(table)) };
}

const connect = env.SHADOWDB_CONNECT_URL;
async function rest(method: string, path: string, body?: unknown): Promise<unknown> {
  const response = await fetch(`${connect}${path}`, {
    method,
    headers: { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok && response.status !== 404)
    throw new Error(`${method} ${path}: ${response.status} ${text}`);
  return text ? JSON.parse(text) : undefined;
}

/** The JDBC sink, tuned as its docs advise: upsert, reduction buffer, polls as large as the batch. */
function sinkConfig(topic: string, table: string, batchSize: number): Record<string, string> {
  const db = new URL(prodUrl);
  return {
    "connector.class": "io.debezium.connector.jdbc.JdbcSinkConnector",
    "tasks.max": "1",
    topics: topic,
    "connection.url": pg
      ? `jdbc:postgresql://${db.hostname}:${db.port || 5432}/sinkbench`
      : `jdbc:mariadb://${db.hostname}:${db.port || 3306}/sinkbench`,
    "connection.username": decodeURIComponent(db.username) || (pg ? "postgres" : "root"),
    "connection.password": decodeURIComponent(db.password),
    "insert.mode": "upsert",
    "delete.enabled": "true",
    "primary.key.mode": "record_key",
    "schema.evolution": "none",
    "collection.name.format": table,
    "batch.size": String(batchSize),
    "use.reduction.buffer": "true",
    ...(pg ? { "dialect.postgres.unnest.insert.enabled": "true" } : {}),
    "consumer.override.max.poll.records": String(batchSize),
    "consumer.override.max.partition.fetch.bytes": String(16 * 2 ** 20),
    "consumer.override.auto.offset.reset": "earliest",
    "key.converter": "org.apache.kafka.connect.json.JsonConverter",
    "key.converter.schemas.enable": "true",
    "value.converter": "org.apache.kafka.connect.json.JsonConverter",
    "value.converter.schemas.enable": "true",
  };
}

async function timeSink(topic: string, table: string, end: bigint, batchSize: number, roundIndex = 0) {
  await sink.run(`DROP TABLE IF EXISTS ${table}`);
  await sink.run(`CREATE TABLE ${table} (${columns})`);
  const name = `bench-sink-${suffix}-${table}-${batchSize}-${roundIndex}`;
  const started = performance.now();
  await rest("PUT", `/connectors/${name}/config`, sinkConfig(topic, table, batchSize));
  try {
    for (;;) {
      const status = (await rest("GET", `/connectors/${name}/status`)) as
        | { tasks?: { state: string; trace?: string }[] }
        | undefined;
      const failed = status?.tasks?.find((t) => t.state === "FAILED");
      if (failed) throw new Error(`the JDBC sink failed: ${failed.trace?.split("\n")[0]}`);
      const [offsets] = await admin.fetchOffsets({ groupId: `connect-${name}`, topics: [topic] });
      const done = (offsets?.partitions ?? []).reduce(
        (sum, p) => sum + BigInt(Math.max(0, Number(p.offset))),
        0n,
      );
      if (done >= end) break;
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    await rest("DELETE", `/connectors/${name}`);
  }
  const seconds = (performance.now() - started) / 1000;
  return { seconds, check: await sink.one(checksum(table)) };
}

const round = (n: number) => Math.round(n);

// 1. Tune the sink's batch size on a smaller stream of the same shape.
const tuneTable = `vs_tune_${suffix}`;
const tuneChanges = Math.max(1000, Math.floor(changes / 10));
const tune = await publish(tuneTable, tuneChanges);
const tuned: { batchSize: number; changesPerSecond: number }[] = [];
for (const batchSize of tuning) {
  flushToDisk();
  const { seconds } = await timeSink(tune.topic, tuneTable, tune.end, batchSize);
  tuned.push({ batchSize, changesPerSecond: round(tuneChanges / seconds) });
  console.log(`tuning the JDBC sink: batch.size ${batchSize}: ${round(tuneChanges / seconds)} changes/s`);
  await sink.run(`DROP TABLE ${tuneTable}`);
}
const best = tuned.reduce((a, b) => (b.changesPerSecond > a.changesPerSecond ? b : a)).batchSize;

// 2. The same backlog, one after the other: shadowdb, then the sink at its best batch size.
const table = `vs_${shape}_${suffix}`;
const stream = await publish(table, changes);
console.log(`published ${changes} changes (${stream.end} records) in ${stream.seconds.toFixed(1)} s`);
const expected = await prod.one(checksum(table));
const same = (check: Record<string, unknown>) => JSON.stringify(check) === JSON.stringify(expected);
const measured: {
  flushedMiB: { beforeShadowdb: number; beforeSink: number };
  ours: Awaited<ReturnType<typeof timeShadowdb>>;
  theirs: Awaited<ReturnType<typeof timeSink>>;
}[] = [];
for (let r = 0; r < rounds; r++) {
  if (r > 0) await shadow.run(`DROP TABLE ${table}`);
  // What the phase before left: the publish's writes, or the sink's last round.
  const beforeShadowdb = r === 0 ? await settle(prod, table) : await settle(sink, table);
  const ours = await timeShadowdb(stream.topic, table, stream.end, r);
  console.log(`shadowdb: ${round(changes / ours.seconds)} changes/s, peak RSS ${ours.peakRssMiB} MiB`);
  const beforeSink = await settle(shadow, table);
  const theirs = await timeSink(stream.topic, table, stream.end, best, r);
  console.log(`JDBC sink (batch.size ${best}): ${round(changes / theirs.seconds)} changes/s`);
  if (!same(ours.check) || !same(theirs.check))
    throw new Error(
      `a result differs from production: prod ${JSON.stringify(expected)}, shadowdb ${JSON.stringify(ours.check)}, sink ${JSON.stringify(theirs.check)}`,
    );
  measured.push({ flushedMiB: { beforeShadowdb, beforeSink }, ours, theirs });
}
const total = (pick: (m: (typeof measured)[number]) => number) =>
  measured.reduce((sum, m) => sum + pick(m), 0);
const ours = {
  seconds: total((m) => m.ours.seconds) / rounds,
  peakRssMiB: Math.max(...measured.map((m) => m.ours.peakRssMiB)),
};
const theirs = { seconds: total((m) => m.theirs.seconds) / rounds };
const ratio = Number((theirs.seconds / ours.seconds).toFixed(2));
console.log(`ratio: shadowdb applies ${ratio}x the JDBC sink's rate`);
for (const t of [tuneTable, table]) await prod.run(`DROP TABLE IF EXISTS ${t}`);
await shadow.run(`DROP TABLE ${table}`);
await sink.run(`DROP TABLE ${table}`);
// Each run leaves GBs of topic behind otherwise, which crowd the next run's out of the page cache.
await admin.deleteTopics({ topics: [tune.topic, stream.topic] });
await Promise.all([prod.close(), shadow.close(), sink.close(), admin.disconnect()]);
rmSync(tmp, { recursive: true, force: true });

writeResults(
  `vs-sink-${engine}-${shape}`,
  {
    benchmark: "vs-sink",
    engine,
    shape,
    date: new Date().toISOString(),
    changes,
    records: Number(stream.end),
    debeziumPublishSeconds: Number(stream.seconds.toFixed(1)),
    sinkTuning: { changes: tuneChanges, results: tuned, best },
    rounds: measured.map((m) => ({
      shadowdbChangesPerSecond: round(changes / m.ours.seconds),
      jdbcSinkChangesPerSecond: round(changes / m.theirs.seconds),
      ratio: Number((m.theirs.seconds / m.ours.seconds).toFixed(2)),
      // Dirty pages written out before each timed phase (settle).
      flushedMiB: m.flushedMiB,
    })),
    shadowdb: {
      seconds: Number(ours.seconds.toFixed(1)),
      changesPerSecond: round(changes / ours.seconds),
      peakRssMiB: ours.peakRssMiB,
    },
    jdbcSink: {
      batchSize: best,
      seconds: Number(theirs.seconds.toFixed(1)),
      changesPerSecond: round(changes / theirs.seconds),
    },
    ratio,
  },
  {
    [`${pg ? "pg" : "my"}_apply_ratio_vs_jdbc_sink${shape === "narrow" ? "" : "_wide"}`]: ratio,
  },
);
process.exit(0);
