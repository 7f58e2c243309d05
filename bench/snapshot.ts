/**
 * bench/snapshot: how fast shadowdb loads a Debezium snapshot, against COPY of the same rows (the
 * ceiling of any loader). A pgbench_accounts-like table is filled with N rows in `prod` without the
 * stack's own connector seeing them (PostgreSQL: filled UNLOGGED, then SET LOGGED, whose rewrite
 * logical decoding skips; MariaDB: inserted with sql_log_bin=0). A temporary Debezium connector of
 * its own (snapshot.mode=initial, its own topic prefix, PostgreSQL slot or MariaDB server id and
 * schema history) snapshots it into Kafka and is removed once the topic holds N records. Then:
 *   1. shadowdb (overlay off, apply.batchSize default) is timed from start until its stored
 *      position reaches the topic's end, into an empty shadow table;
 *   2. the same rows, exported from prod beforehand (untimed), are loaded into another empty table
 *      of the shadow database with PostgreSQL `COPY … FROM STDIN` (pg-copy-streams) or MariaDB
 *      `LOAD DATA LOCAL INFILE` (mysql2), timed for the load only.
 *   3. `shadowdb seed` (src/seed) of the same prod table into a third empty table (created by
 *      the seed like the source, primary key included), timed from the call until it returns:
 *      end offsets, the source snapshot, PostgreSQL COPY TO piped into COPY FROM, MariaDB a
 *      SELECT streamed into LOAD DATA LOCAL.
 * Both tables have the same definition (primary key included). Prints rows/s of each and
 * fractions of COPY; writes bench/results/snapshot-<engine>.json and the headlines
 * snapshot_fraction_of_copy / my_snapshot_fraction_of_copy (the seed, the initial load shadowdb
 * offers) and snapshot_stream_fraction_of_copy / my_snapshot_stream_fraction_of_copy (through a
 * Debezium snapshot) to summary.json.
 * COPY and the seed run in BENCH_ROUNDS (3) alternating rounds; the medians give the fraction.
 * Legs "seed" runs only the seed and COPY (results in snapshot-<engine>-seed.json) (no Debezium snapshot, which takes minutes per million rows).
 * Everything it creates (connector, offsets, slot, topics, tables, positions, group) is removed.
 * Usage: tsx bench/snapshot.ts postgres|mariadb [rows=5000000] [legs=all|seed]
 */
import { randomBytes, randomInt } from "node:crypto";
import { createReadStream, createWriteStream, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import mysqlStreaming from "mysql2";
import mysql from "mysql2/promise";
import pg from "pg";
import { from as copyFrom, to as copyTo } from "pg-copy-streams";
import { parseConfig } from "../src/config/index.ts";
import { createLogger } from "../src/log.ts";
import { seed } from "../src/seed/seed.ts";
import { loadDialect } from "../src/target/load.ts";
import { registerConnector } from "../stack/connect.ts";
import { stackEnv } from "../stack/layout.ts";
import { liveConfig, removeConnector, removeTopics, watchForFailure } from "../test/fixtures/harness.ts";
import { kafkaClient, waitForTopic } from "../test/support/kafka.ts";
import { startMaterializer } from "../test/support/materialize.ts";
import { type Engine, openDb, rssSampler, sleep, writeResults } from "./support.ts";

const engineArg = process.argv[2];
if (engineArg !== "postgres" && engineArg !== "mariadb") {
  console.error("usage: tsx bench/snapshot.ts postgres|mariadb [rows=5000000]");
  process.exit(2);
}
const engine: Engine = engineArg;
const rows = Number(process.argv[3] ?? 5_000_000);
const legs = process.argv[4] ?? "all";
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
if (legs !== "all" && legs !== "seed") throw new Error(`legs must be all or seed, not ${legs}`);
if (!Number.isInteger(rows) || rows < 1)
  throw new Error(`rows must be a positive integer, not ${process.argv[3]}`);
const isPg = engine === "postgres";
const env = stackEnv();
const suffix = randomBytes(3).toString("hex");
const table = `snapbench_${suffix}`;
const copyTable = `${table}_copy`;
const seedTable = `${table}_seed`;
const prefix = `snapbench_${suffix}`;
const connectorName = `shadowdb-snapbench-${suffix}`;
const slot = `snapbench_${suffix}`;
const historyTopic = `_shadowdb_schema_history.${prefix}`;
const group = `bench-snapshot-${suffix}`;
const columns = "aid bigint PRIMARY KEY, bid int NOT NULL, abalance int NOT NULL, filler char(84) NOT NULL";
const prodUrl = isPg ? env.SHADOWDB_PG_PROD_URL : env.SHADOWDB_MY_PROD_URL;
const shadowUrl = isPg ? env.SHADOWDB_PG_SHADOW_URL : env.SHADOWDB_MY_SHADOW_URL;
const topic = `${prefix}.${isPg ? "public" : "prod"}.${table}`;
const chunk = 500_000;
/** A wait that sees no progress for this long has failed. */
const stallMs = 180_000;

const log = (line: string) => console.log(`snapshot ${engine}: ${line}`);
const rate = (n: number, seconds: number) => Math.round(n / seconds);

const prod = await openDb(engine, prodUrl);
const shadow = await openDb(engine, shadowUrl);
const kafka = kafkaClient(env.SHADOWDB_KAFKA_BROKERS);
const admin = kafka.admin();
await admin.connect();
const tmp = mkdtempSync(path.join(tmpdir(), "snapbench-"));

/** Undo steps, run newest first whatever happens; a failing one is reported, the others still run. */
const cleanups: { what: string; run: () => Promise<void> }[] = [];
const undo = (what: string, run: () => Promise<void>) => cleanups.push({ what, run });

/** A slot stays active for a moment after its connector stopped; dropping it then would fail. */
async function dropSlot(): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const state = await prod.one(
      `SELECT active::text AS active FROM pg_replication_slots WHERE slot_name = '${slot}'`,
    );
    if (state.active === undefined) return;
    if (state.active === "false") {
      await prod.run(`SELECT pg_drop_replication_slot('${slot}')`);
      return;
    }
    if (Date.now() > deadline) throw new Error(`replication slot ${slot} is still active`);
    await sleep(500);
  }
}

let connectorGone = false;
async function removeSnapshotConnector(): Promise<void> {
  if (connectorGone) return;
  await removeConnector(connectorName);
  if (isPg) await dropSlot();
  connectorGone = true;
}

/** Sums the topic's high-water marks until they reach `count`; fails when nothing moves for stallMs. */
async function waitForRecords(count: number): Promise<bigint> {
  let end = 0n;
  let movedAt = Date.now();
  let loggedAt = Date.now();
  for (;;) {
    const now = (await admin.fetchTopicOffsets(topic)).reduce((n, p) => n + BigInt(p.high), 0n);
    if (now !== end) movedAt = Date.now();
    end = now;
    if (end >= BigInt(count)) return end;
    if (Date.now() - movedAt > stallMs) throw new Error(`${topic} stalled at ${end} of ${count} records`);
    if (Date.now() - loggedAt > 10_000) {
      loggedAt = Date.now();
      log(`Debezium has published ${end} of ${count} records`);
    }
    await sleep(500);
  }
}

async function fillProd(): Promise<void> {
  const started = performance.now();
  if (isPg) {
    // Unlogged rows are not in the WAL, and the rewrite of SET LOGGED is skipped by logical
    // decoding: the stack's connector (FOR ALL TABLES) never streams these N inserts.
    await prod.run(`CREATE UNLOGGED TABLE ${table} (${columns})`);
    undo(`drop prod.${table}`, () => prod.run(`DROP TABLE IF EXISTS ${table}`));
    for (let from = 1; from <= rows; from += chunk)
      await prod.run(
        `INSERT INTO ${table} SELECT g, (g - 1) / 100000 + 1, 0, md5(g::text) FROM generate_series(${from}, ${Math.min(rows, from + chunk - 1)}) g`,
      );
    await prod.run(`ALTER TABLE ${table} SET LOGGED`);
    await prod.run(`ANALYZE ${table}`);
  } else {
    // The DDL goes to the binlog (the stack's connector learns the table), the rows do not.
    await prod.run(`CREATE TABLE ${table} (${columns})`);
    undo(`drop prod.${table}`, () => prod.run(`DROP TABLE IF EXISTS ${table}`));
    await prod.run("SET SESSION sql_log_bin = 0");
    try {
      for (let from = 1; from <= rows; from += chunk)
        await prod.run(
          `INSERT INTO ${table} SELECT seq, (seq - 1) DIV 100000 + 1, 0, md5(seq) FROM seq_${from}_to_${Math.min(rows, from + chunk - 1)}`,
        );
    } finally {
      await prod.run("SET SESSION sql_log_bin = 1");
    }
  }
  log(`filled prod.${table} with ${rows} rows in ${((performance.now() - started) / 1000).toFixed(1)} s`);
}

/** The temporary connector: the stack's live connector's settings, its own identity, one table. */
async function snapshotIntoKafka(): Promise<{ end: bigint; seconds: number }> {
  const base = await liveConfig(
    `shadowdb-${isPg ? env.SHADOWDB_PG_TOPIC_PREFIX : env.SHADOWDB_MY_TOPIC_PREFIX}`,
  );
  const config: Record<string, string> = {
    ...base,
    "snapshot.mode": "initial",
    "topic.prefix": prefix,
    ...(isPg
      ? {
          "slot.name": slot,
          // The stack's FOR ALL TABLES publication, filtered: creating one needs a superuser.
          "publication.autocreate.mode": "disabled",
          "table.include.list": `public.${table}`,
        }
      : {
          // Every binlog client needs its own server id; the stack's connector uses 184054.
          "database.server.id": String(randomInt(185_000, 186_000)),
          "schema.history.internal.kafka.topic": historyTopic,
          "include.schema.changes": "false",
          "table.include.list": `prod.${table}`,
        }),
  };
  undo(`remove topics of ${prefix}`, () => removeTopics(kafka, prefix, historyTopic));
  undo(`remove connector ${connectorName}`, removeSnapshotConnector);
  const started = performance.now();
  await registerConnector({ name: connectorName, config });
  const watch = watchForFailure(connectorName);
  watch.failed.catch(() => undefined);
  try {
    const end = await Promise.race([
      watch.failed,
      (async () => {
        await waitForTopic(kafka, topic, stallMs);
        return waitForRecords(rows);
      })(),
    ]);
    return { end, seconds: (performance.now() - started) / 1000 };
  } finally {
    watch.stop();
  }
}

/** shadowdb from start until its stored position reaches the topic's end. */
async function timeShadowdb(end: bigint) {
  const schema = isPg ? "public" : "shadow";
  await shadow.run(`CREATE TABLE ${table} (${columns})`);
  undo(`drop shadow.${table}`, () => shadow.run(`DROP TABLE IF EXISTS ${table}`));
  undo(`forget group ${group}`, async () => {
    await shadow.run(`DELETE FROM shadowdb_positions WHERE group_id = '${group}'`).catch(() => undefined);
    await admin.deleteGroups([group]).catch(() => undefined);
  });
  const rss = rssSampler();
  const started = performance.now();
  const running = await startMaterializer(`
kafka: { brokers: "${env.SHADOWDB_KAFKA_BROKERS}", groupId: "${group}" }
target: { dialect: ${isPg ? "postgres" : "mysql"}, url: "${shadowUrl}" }
tables: [ { topic: "${topic}", table: "${schema}.${table}" } ]
overlay: { enabled: false }
deadLetter: { table: "${schema}.shadowdb_dead_letters" }
http: { port: 0 }
`);
  let loggedAt = performance.now();
  try {
    for (let position = 0n; position < end; position = await shadow.position(group)) {
      running.assertAlive();
      if (performance.now() - loggedAt > 10_000) {
        loggedAt = performance.now();
        log(`shadowdb has loaded ${position} of ${end} records`);
      }
      await sleep(100);
    }
  } finally {
    await running.stop();
  }
  const seconds = (performance.now() - started) / 1000;
  const peakRssMiB = rss.stop();
  const loaded = Number((await shadow.one(`SELECT count(*) AS n FROM ${table}`)).n);
  if (loaded !== rows) throw new Error(`shadowdb loaded ${loaded} rows, production has ${rows}`);
  return { seconds, peakRssMiB, batches: running.materializer.stats.batches };
}

/** The rows exported from prod (untimed), then loaded into an empty twin table (timed). */
let exported = false;
async function timeCopy() {
  await shadow.run(`DROP TABLE IF EXISTS ${copyTable}`);
  await shadow.run(`CREATE TABLE ${copyTable} (${columns})`);
  if (!exported) undo(`drop shadow.${copyTable}`, () => shadow.run(`DROP TABLE IF EXISTS ${copyTable}`));
  const file = path.join(tmp, "rows.tsv");
  let seconds: number;
  if (isPg) {
    const source = new pg.Client({ connectionString: prodUrl });
    await source.connect();
    try {
      if (!exported) await pipeline(source.query(copyTo(`COPY ${table} TO STDOUT`)), createWriteStream(file));
      exported = true;
    } finally {
      await source.end();
    }
    const target = new pg.Client({ connectionString: shadowUrl });
    await target.connect();
    try {
      const started = performance.now();
      await pipeline(
        createReadStream(file, { highWaterMark: 2 ** 20 }),
        target.query(copyFrom(`COPY ${copyTable} FROM STDIN`)),
      );
      seconds = (performance.now() - started) / 1000;
    } finally {
      await target.end();
    }
  } else {
    // The callback API: its queries stream rows.
    const source = mysqlStreaming.createConnection({ uri: prodUrl });
    try {
      const toLine = new Transform({
        writableObjectMode: true,
        transform(row: { aid: number; bid: number; abalance: number; filler: string }, _, done) {
          done(null, `${row.aid}\t${row.bid}\t${row.abalance}\t${row.filler}\n`);
        },
      });
      await pipeline(
        source.query(`SELECT aid, bid, abalance, filler FROM ${table}`).stream(),
        toLine,
        createWriteStream(file),
      );
    } finally {
      await new Promise((resolve) => source.end(resolve));
    }
    const target = await mysql.createConnection({
      uri: shadowUrl,
      infileStreamFactory: () => createReadStream(file, { highWaterMark: 2 ** 20 }),
    });
    try {
      const started = performance.now();
      await target.query(
        `LOAD DATA LOCAL INFILE 'rows.tsv' INTO TABLE ${copyTable} FIELDS TERMINATED BY '\\t' LINES TERMINATED BY '\\n' (aid, bid, abalance, filler)`,
      );
      seconds = (performance.now() - started) / 1000;
    } finally {
      await target.end();
    }
  }
  const loaded = Number((await shadow.one(`SELECT count(*) AS n FROM ${copyTable}`)).n);
  if (loaded !== rows) throw new Error(`${isPg ? "COPY" : "LOAD DATA"} loaded ${loaded} rows, not ${rows}`);
  return { seconds };
}

/** `shadowdb seed` of the prod table into an empty shadow table it creates, as the CLI runs it. */
async function timeSeed() {
  undo(`drop shadow.${seedTable}`, () => shadow.run(`DROP TABLE IF EXISTS ${seedTable}`));
  const seedGroup = `${group}-seed`;
  // Each round from scratch: no table (the seed creates it), no positions.
  await shadow.run(`DROP TABLE IF EXISTS ${seedTable}`);
  await shadow.run(`DELETE FROM shadowdb_positions WHERE group_id = '${seedGroup}'`).catch(() => undefined);
  undo(`forget group ${seedGroup}`, async () => {
    await shadow.run(`DELETE FROM shadowdb_positions WHERE group_id = '${seedGroup}'`).catch(() => undefined);
  });
  const config = parseConfig(
    `
kafka: { brokers: "${env.SHADOWDB_KAFKA_BROKERS}", groupId: "${seedGroup}" }
target: { dialect: ${isPg ? "postgres" : "mysql"}, url: "${shadowUrl}" }
tables: [ { topic: "${isPg ? `${env.SHADOWDB_PG_TOPIC_PREFIX}.public` : `${env.SHADOWDB_MY_TOPIC_PREFIX}.prod`}.${table}", table: "${isPg ? "public" : "shadow"}.${seedTable}" } ]
seed: { source: { url: "${prodUrl}" } }
http: { port: 0 }
`,
    "snapshot bench seed config",
    {},
  );
  const dialect = await loadDialect(isPg ? "postgres" : "mysql");
  const target = new dialect.Target(shadowUrl);
  const source = new dialect.seeding!.Source(prodUrl);
  const started = performance.now();
  try {
    await seed({
      config,
      target,
      seedTarget: dialect.seeding!.target(target),
      source,
      listTopics: () => admin.listTopics(),
      endOffsets: async (t) =>
        (await admin.fetchTopicOffsets(t)).map((p) => ({ partition: p.partition, offset: p.high })),
      log: createLogger("warn"),
    });
  } finally {
    await source.close();
    await target.close();
  }
  const seconds = (performance.now() - started) / 1000;
  // The same rows, not just as many: count and two sums that any lost or changed row moves.
  const check = `SELECT count(*) AS n, sum(abalance + bid) AS s, sum(${isPg ? "hashtext(filler)::bigint" : "crc32(filler)"}) AS h FROM`;
  const [ours, theirs] = [await shadow.one(`${check} ${seedTable}`), await prod.one(`${check} ${table}`)];
  if (JSON.stringify(ours) !== JSON.stringify(theirs))
    throw new Error(`the seed loaded ${JSON.stringify(ours)}, production has ${JSON.stringify(theirs)}`);
  return { seconds };
}

let failed = false;
try {
  await fillProd();
  let stream:
    | { snapshot: { end: bigint; seconds: number }; ours: Awaited<ReturnType<typeof timeShadowdb>> }
    | undefined;
  if (legs === "all") {
    const snapshot = await snapshotIntoKafka();
    log(
      `Debezium snapshotted ${snapshot.end} records in ${snapshot.seconds.toFixed(1)} s (${rate(rows, snapshot.seconds)} rows/s)`,
    );
    await removeSnapshotConnector();
    const ours = await timeShadowdb(snapshot.end);
    log(
      `shadowdb (Debezium snapshot through Kafka): ${rate(rows, ours.seconds)} rows/s (${ours.seconds.toFixed(1)} s, peak RSS ${ours.peakRssMiB} MiB)`,
    );
    stream = { snapshot, ours };
  }
  const tool = isPg ? "COPY FROM STDIN (pg-copy-streams)" : "LOAD DATA LOCAL INFILE (mysql2)";
  // COPY and the seed in alternating rounds on the same rows, the median of each: side by side,
  // and one noisy round (the machine is shared) does not decide the ratio.
  const copyRounds: number[] = [];
  const seedRounds: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const copyRound = await timeCopy();
    copyRounds.push(copyRound.seconds);
    log(
      `round ${round + 1}: ${tool}: ${rate(rows, copyRound.seconds)} rows/s (${copyRound.seconds.toFixed(1)} s)`,
    );
    const seedRound = await timeSeed();
    seedRounds.push(seedRound.seconds);
    log(
      `round ${round + 1}: shadowdb seed: ${rate(rows, seedRound.seconds)} rows/s (${seedRound.seconds.toFixed(1)} s)`,
    );
  }
  const copy = { seconds: median(copyRounds), rounds: copyRounds };
  const seeded = { seconds: median(seedRounds), rounds: seedRounds };
  const seedFraction = Number((copy.seconds / seeded.seconds).toFixed(3));
  const streamFraction = stream ? Number((copy.seconds / stream.ours.seconds).toFixed(3)) : undefined;
  const of = isPg ? "COPY" : "LOAD DATA";
  log(`seed: ${seedFraction} x the rate of ${of} (goal >= 0.5)`);
  if (streamFraction !== undefined)
    log(`Debezium snapshot through Kafka: ${streamFraction} x the rate of ${of}`);
  const result = {
    benchmark: "snapshot",
    engine,
    date: new Date().toISOString(),
    node: process.version,
    rows,
    legs,
    table: columns,
    ...(stream
      ? {
          records: Number(stream.snapshot.end),
          debeziumSnapshot: {
            seconds: Number(stream.snapshot.seconds.toFixed(1)),
            rowsPerSecond: rate(rows, stream.snapshot.seconds),
          },
          shadowdb: {
            seconds: Number(stream.ours.seconds.toFixed(2)),
            rowsPerSecond: rate(rows, stream.ours.seconds),
            batches: stream.ours.batches,
            peakRssMiB: stream.ours.peakRssMiB,
            fractionOfCopy: streamFraction,
            note: "the Debezium snapshot's records applied from Kafka: from start (consumer group join included) until the stored position reaches the topic's end; overlay off, apply.batchSize default",
          },
        }
      : {}),
    copy: {
      tool,
      seconds: Number(copy.seconds.toFixed(2)),
      rowsPerSecond: rate(rows, copy.seconds),
      roundSeconds: copy.rounds.map((r) => Number(r.toFixed(2))),
    },
    seed: {
      seconds: Number(seeded.seconds.toFixed(2)),
      rowsPerSecond: rate(rows, seeded.seconds),
      fractionOfCopy: seedFraction,
      roundSeconds: seeded.rounds.map((r) => Number(r.toFixed(2))),
      note: isPg
        ? "shadowdb seed: end offsets, one read-only snapshot of prod, COPY TO piped into COPY FROM, positions stored; rows checked against prod"
        : "shadowdb seed: end offsets, one consistent snapshot of prod, SELECT streamed into LOAD DATA LOCAL, positions stored; rows checked against prod",
    },
    goal: "initial load >= 0.5 x COPY",
  };
  const headline: Record<string, number> = {
    [isPg ? "snapshot_fraction_of_copy" : "my_snapshot_fraction_of_copy"]: seedFraction,
  };
  if (streamFraction !== undefined)
    headline[isPg ? "snapshot_stream_fraction_of_copy" : "my_snapshot_stream_fraction_of_copy"] =
      streamFraction;
  // A seed-only run has a file of its own: it does not replace the last run of every leg.
  writeResults(`snapshot-${engine}${legs === "seed" ? "-seed" : ""}`, result, {
    ...headline,
  });
} catch (error) {
  failed = true;
  console.error(
    `snapshot ${engine}: FAILED: ${error instanceof Error ? (error.stack ?? error.message) : error}`,
  );
} finally {
  for (const { what, run } of cleanups.reverse()) {
    try {
      await run();
    } catch (error) {
      failed = true;
      console.error(
        `snapshot ${engine}: cleanup "${what}" failed: ${error instanceof Error ? error.message : error}`,
      );
    }
  }
  rmSync(tmp, { recursive: true, force: true });
  await Promise.allSettled([prod.close(), shadow.close(), admin.disconnect()]);
}
process.exit(failed ? 1 : 0);
