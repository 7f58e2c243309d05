/**
 * bench/latency: from a production commit to the change visible in the shadow, at a steady rate of
 * source transactions. For each rate R: a fresh pgbench_accounts-like table (plus `written_at`) in
 * `prod`, prefilled and published by the stack's own connector; shadowdb (overlay on, as the
 * product runs) catches up on it; then a load generator runs single-row transactions (half
 * INSERTs of new rows, half UPDATEs of random prefilled rows, autocommit) at R tx/s, paced by a
 * 1 ms timer handing out tokens to BENCH_CLIENTS connections, for a warm-up (not measured) and
 * `seconds`. Every applied change is timed, exactly (no histogram buckets), two ways:
 *   - source.ts_ms: Debezium's source commit time to the shadow's commit, collected from
 *     shadowdb's own metric (shadowdb_source_delay_seconds, whose observe() this bench wraps).
 *     PostgreSQL gives the commit time in ms; MariaDB's binlog gives whole seconds, so there
 *     this figure overstates the lag by up to 1 s (0.5 s on average).
 *   - client stamp: `written_at`, this process's clock (µs) just before the statement is sent,
 *     to the commit of the shadow transaction that wrote that row (the target is wrapped to see
 *     the rows it writes); one clock at both ends. It includes the statement's own round trip.
 * A second consumer reads the topic alongside and splits the client-stamped lag per change into
 * Debezium's leg (commit → the Kafka record's timestamp) and the rest (Kafka → shadow commit).
 * The headline is source.ts_ms on PostgreSQL and the client stamp on MariaDB (second-granular
 * ts_ms). Both ends run on this machine, so the source database's clock and this process's clock
 * are the same kernel clock. Also reports the rate achieved (transactions committed per second in
 * the measured window) and warns when the generator could not keep R. Writes
 * bench/results/latency-<engine>.json and p99_lag_ms_at_1k / _5k (my_… for MariaDB) to summary.json.
 * Usage: tsx bench/latency.ts postgres|mariadb [rates=1000,5000] [seconds=60]
 * Env: BENCH_CLIENTS (8 connections), BENCH_ROWS (10000 prefilled rows), BENCH_OVERLAY=off.
 */
import { randomBytes, randomInt } from "node:crypto";
import type { Consumer, Kafka } from "kafkajs";
import mysql from "mysql2/promise";
import pg from "pg";
import { parseConfig } from "../src/config/index.ts";
import { createLogger } from "../src/log.ts";
import { Metrics } from "../src/metrics/metrics.ts";
import { overlayNames } from "../src/overlay/names.ts";
import { materializerOptions } from "../src/run/create.ts";
import { Materializer } from "../src/run/materializer.ts";
import type { ApplyTarget, TableWrite, TargetTransaction } from "../src/target/dialect.ts";
import { loadDialect } from "../src/target/load.ts";
import { stackEnv } from "../stack/layout.ts";
import { kafkaClient, waitForTopic } from "../test/support/kafka.ts";
import { supervise } from "../test/support/materialize.ts";
import { type Engine, openDb, percentiles, rssSampler, sleep, writeResults } from "./support.ts";

const engineArg = process.argv[2];
if (engineArg !== "postgres" && engineArg !== "mariadb") {
  console.error("usage: tsx bench/latency.ts postgres|mariadb [rates=1000,5000] [seconds=60]");
  process.exit(2);
}
const engine: Engine = engineArg;
const rates = (process.argv[3] ?? "1000,5000").split(",").map(Number);
const seconds = Number(process.argv[4] ?? 60);
if (rates.some((r) => !(r > 0)) || !(seconds > 0))
  throw new Error(`rates and seconds must be positive numbers: ${process.argv.slice(3).join(" ")}`);
const clients = Number(process.env.BENCH_CLIENTS ?? 8);
const prefill = Number(process.env.BENCH_ROWS ?? 10_000);
const overlay = process.env.BENCH_OVERLAY !== "off";
const warmup = Math.min(5, seconds / 5);
const isPg = engine === "postgres";
const env = stackEnv();
const suffix = randomBytes(3).toString("hex");
const prodUrl = isPg ? env.SHADOWDB_PG_PROD_URL : env.SHADOWDB_MY_PROD_URL;
const shadowUrl = isPg ? env.SHADOWDB_PG_SHADOW_URL : env.SHADOWDB_MY_SHADOW_URL;
const schema = isPg ? "public" : "shadow";
const columns =
  "aid bigint PRIMARY KEY, bid int NOT NULL, abalance int NOT NULL, filler char(84) NOT NULL, written_at bigint NOT NULL";
/** A wait that sees no progress for this long has failed (the stack's connector may be busy elsewhere). */
const stallMs = 300_000;

const log = (line: string) => console.log(`latency ${engine}: ${line}`);
/** This process's clock in µs since the epoch (finer than Date.now, same origin). */
const stampUs = () => Math.round((performance.timeOrigin + performance.now()) * 1000);

/** The target, with every committed transaction's written `written_at` values reported after COMMIT. */
function stampingTarget(
  inner: ApplyTarget,
  onCommit: (stamps: number[], committedUs: number) => void,
): ApplyTarget {
  const bind = <T extends object>(object: T, key: string | symbol) => {
    const value = Reflect.get(object, key) as unknown;
    return typeof value === "function" ? value.bind(object) : value;
  };
  return new Proxy(inner, {
    get(target, key) {
      if (key !== "transaction") return bind(target, key);
      return async <T>(work: (tx: TargetTransaction) => Promise<T>): Promise<T> => {
        // Per attempt: a transaction that rolls back reports nothing.
        const stamps: number[] = [];
        const result = await target.transaction((tx) =>
          work(
            new Proxy(tx, {
              get(inner, key) {
                if (key !== "write") return bind(inner, key);
                return (write: TableWrite) => {
                  for (const row of write.upserts) {
                    const stamp = row.written_at;
                    if (typeof stamp === "bigint" || typeof stamp === "number") stamps.push(Number(stamp));
                  }
                  return inner.write(write);
                };
              },
            }),
          ),
        );
        onCommit(stamps, stampUs());
        return result;
      };
    },
  });
}

interface Lags {
  /** [source commit ms since the epoch, lag ms] from shadowdb's source delay metric. */
  source: [number, number][];
  /** [client stamp µs since the epoch, lag ms]. */
  client: [number, number][];
}

/** The real Materializer as src/run/create.ts wires it, with its metric and target observed. */
async function startMeasured(yaml: string, lags: Lags) {
  const config = parseConfig(yaml, "latency bench config", {});
  const logger = createLogger(process.env.SHADOWDB_TEST_LOG ?? "warn");
  const metrics = new Metrics();
  const histogram = metrics.sourceDelaySeconds;
  const observe = histogram.observe.bind(histogram) as (value: number) => void;
  (histogram as unknown as { observe: (value: number) => void }).observe = (value: number) => {
    const now = Date.now();
    lags.source.push([now - value * 1000, value * 1000]);
    observe(value);
  };
  const options = await materializerOptions(config, logger, metrics);
  options.target = stampingTarget(options.target, (stamps, at) => {
    for (const stamp of stamps) if (stamp > 0) lags.client.push([stamp, (at - stamp) / 1000]);
  });
  return supervise(new Materializer(options), config);
}

/**
 * Reads the table's topic alongside shadowdb: for every change of the load, the Kafka record's
 * timestamp (CreateTime: when Connect's producer sent it), keyed by the row's `written_at`. That
 * splits the client-stamped lag into Debezium's leg (commit → sent to Kafka) and the rest (Kafka →
 * committed in the shadow: the broker, shadowdb's fetch, decode and apply). The value is scanned,
 * not parsed, to keep this reader cheap.
 */
async function watchTopic(kafka: Kafka, topic: string, groupId: string, sentAt: Map<number, number>) {
  const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 100 });
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  const stamp = /"written_at":(\d+)/;
  await consumer.run({
    eachMessage: async ({ message }) => {
      const value = message.value?.toString("latin1");
      const after = value?.indexOf('"after":{') ?? -1;
      if (value === undefined || after < 0) return;
      const written = Number(stamp.exec(value.slice(after))?.[1] ?? 0);
      if (written > 0) sentAt.set(written, Number(message.timestamp));
    },
  });
  return consumer;
}

interface Session {
  exec(sql: string): Promise<void>;
  close(): Promise<void>;
}

async function session(): Promise<Session> {
  if (isPg) {
    const c = new pg.Client({ connectionString: prodUrl });
    await c.connect();
    return { exec: async (sql) => void (await c.query(sql)), close: () => c.end() };
  }
  const c = await mysql.createConnection({ uri: prodUrl });
  return { exec: async (sql) => void (await c.query(sql)), close: () => c.end() };
}

/**
 * Single-row autocommit transactions at `rate` per second for `warmup + seconds`: a 1 ms timer
 * hands out the transactions due so far; each of `clients` sessions takes one, stamps it and runs
 * it. Transactions still due at the end are not sent (counted as behind).
 */
async function generate(table: string, rate: number, windowStartMs: number, windowEndMs: number) {
  const sessions = await Promise.all(Array.from({ length: clients }, session));
  let nextId = prefill;
  let tokens = 0;
  let due = 0;
  let committed = 0;
  let inWindow = 0;
  let maxBehind = 0;
  let running = true;
  const waiting: (() => void)[] = [];
  const started = performance.now();
  const length = windowEndMs - started;
  const tick = () => {
    const now = performance.now();
    const dueNow = Math.floor((rate * Math.min(now - started, length)) / 1000);
    tokens += dueNow - due;
    due = dueNow;
    maxBehind = Math.max(maxBehind, tokens);
    if (now - started >= length) running = false;
    for (let n = running ? Math.min(tokens, waiting.length) : waiting.length; n > 0; n--) waiting.shift()!();
  };
  const timer = setInterval(tick, 1);
  const work = async (s: Session) => {
    for (;;) {
      if (!running) return;
      if (tokens === 0) {
        await new Promise<void>((resolve) => waiting.push(resolve));
        continue;
      }
      tokens--;
      const stamp = stampUs();
      await s.exec(
        randomInt(2) === 0
          ? `INSERT INTO ${table} (aid, bid, abalance, filler, written_at) VALUES (${++nextId}, ${nextId % 10}, 0, 'latency', ${stamp})`
          : `UPDATE ${table} SET abalance = abalance + 1, written_at = ${stamp} WHERE aid = ${randomInt(1, prefill + 1)}`,
      );
      committed++;
      if (stamp / 1000 >= performance.timeOrigin + windowStartMs) inWindow++;
    }
  };
  try {
    await Promise.all(sessions.map(work));
  } finally {
    clearInterval(timer);
    await Promise.allSettled(sessions.map((s) => s.close()));
  }
  return { committed, inWindow, notSent: tokens, maxBehindMs: Math.round((maxBehind / rate) * 1000) };
}

async function measure(rate: number) {
  const table = `latbench_${suffix}_${rate}`;
  const group = `bench-latency-${suffix}-${rate}`;
  const topic = isPg
    ? `${env.SHADOWDB_PG_TOPIC_PREFIX}.public.${table}`
    : `${env.SHADOWDB_MY_TOPIC_PREFIX}.prod.${table}`;
  const prod = await openDb(engine, prodUrl);
  const shadow = await openDb(engine, shadowUrl);
  const kafka = kafkaClient(env.SHADOWDB_KAFKA_BROKERS);
  const admin = kafka.admin();
  await admin.connect();
  const high = async () => (await admin.fetchTopicOffsets(topic)).reduce((n, p) => n + BigInt(p.high), 0n);
  /** Polls `probe` until it holds; fails when `progress` has not moved for stallMs. */
  const until = async (what: string, probe: () => Promise<boolean>, progress: () => Promise<bigint>) => {
    let last = -1n;
    let movedAt = Date.now();
    while (!(await probe())) {
      const now = await progress();
      if (now !== last) movedAt = Date.now();
      last = now;
      if (Date.now() - movedAt > stallMs) throw new Error(`${what}: stalled at ${now}`);
      await sleep(100);
    }
  };
  let running: Awaited<ReturnType<typeof startMeasured>> | undefined;
  let watcher: Consumer | undefined;
  try {
    await prod.run(`CREATE TABLE ${table} (${columns})`);
    await shadow.run(`CREATE TABLE ${table} (${columns})`);
    await prod.run(
      isPg
        ? `INSERT INTO ${table} SELECT g, g % 10, 0, 'prefill', 0 FROM generate_series(1, ${prefill}) g`
        : `INSERT INTO ${table} SELECT seq, seq % 10, 0, 'prefill', 0 FROM seq_1_to_${prefill}`,
    );
    await waitForTopic(kafka, topic, stallMs);
    await until(
      "Debezium publishing the prefilled rows",
      async () => (await high()) >= BigInt(prefill),
      high,
    );

    const lags: Lags = { source: [], client: [] };
    const sentAt = new Map<number, number>();
    watcher = await watchTopic(kafka, topic, `${group}-watch`, sentAt);
    const rss = rssSampler();
    running = await startMeasured(
      `
kafka: { brokers: "${env.SHADOWDB_KAFKA_BROKERS}", groupId: "${group}" }
target: { dialect: ${isPg ? "postgres" : "mysql"}, url: "${shadowUrl}" }
tables: [ { topic: "${topic}", table: "${schema}.${table}" } ]
overlay: { enabled: ${overlay} }
deadLetter: { table: "${schema}.shadowdb_dead_letters" }
http: { port: 0 }
`,
      lags,
    );
    const r = running;
    const position = async () => {
      r.assertAlive();
      return shadow.position(group);
    };
    await until(
      "shadowdb catching up on the prefilled rows",
      async () => (await position()) >= BigInt(prefill),
      position,
    );

    log(
      `${rate} tx/s for ${warmup} s warm-up + ${seconds} s, ${clients} connections, overlay ${overlay ? "on" : "off"}`,
    );
    const loadStart = performance.now();
    const windowStartMs = loadStart + warmup * 1000;
    const windowEndMs = windowStartMs + seconds * 1000;
    const generated = await generate(table, rate, windowStartMs, windowEndMs);
    const loadEnd = performance.now();
    const expected = BigInt(prefill + generated.committed);
    await until("Debezium publishing the load", async () => (await high()) >= expected, high);
    const end = await high();
    await until("shadowdb applying the load", async () => (await position()) >= end, position);
    const drainSeconds = (performance.now() - loadEnd) / 1000;
    await running.stop();
    running = undefined;
    const peakRssMiB = rss.stop();

    // Changes committed in the measured window only (not during warm-up, not the prefill).
    const fromMs = performance.timeOrigin + windowStartMs;
    const toMs = performance.timeOrigin + loadEnd;
    const sourceLags = lags.source.filter(([at]) => at >= fromMs && at <= toMs).map(([, ms]) => ms);
    const measuredClient = lags.client.filter(([us]) => us / 1000 >= fromMs && us / 1000 <= toMs);
    const clientLags = measuredClient.map(([, ms]) => ms);
    // The watcher may still be reading the last records: wait for it (a little) before the split.
    for (let i = 0; i < 50 && measuredClient.some(([us]) => !sentAt.has(us)); i++) await sleep(100);
    const debeziumLeg: number[] = [];
    const restLeg: number[] = [];
    for (const [us, ms] of measuredClient) {
      const sent = sentAt.get(us);
      if (sent === undefined) continue;
      debeziumLeg.push(sent - us / 1000);
      restLeg.push(us / 1000 + ms - sent);
    }
    const achieved = Math.round(generated.inWindow / ((loadEnd - windowStartMs) / 1000));
    const kept = achieved >= rate * 0.95;
    const headline: "sourceTsMs" | "clientStamp" = isPg ? "sourceTsMs" : "clientStamp";
    const figures = {
      rate,
      achievedRate: achieved,
      rateKept: kept,
      transactions: generated.committed,
      measuredTransactions: generated.inWindow,
      generatorMaxBehindMs: generated.maxBehindMs,
      notSent: generated.notSent,
      lagMs: {
        sourceTsMs: percentiles(sourceLags),
        clientStamp: percentiles(clientLags),
        split: {
          note: "clientStamp in two legs, per change: commit → Kafka record timestamp (Connect's producer sent it), then → committed in the shadow",
          debeziumToKafka: percentiles(debeziumLeg),
          kafkaToShadow: percentiles(restLeg),
        },
      },
      headline,
      drainSeconds: Number(drainSeconds.toFixed(2)),
      batches: r.materializer.stats.batches,
      peakRssMiB,
    };
    if (!kept)
      console.warn(
        `latency ${engine}: WARNING: the generator reached ${achieved} tx/s, not ${rate}: the machine could not keep the rate (the lag figures are for ${achieved} tx/s)`,
      );
    const p = figures.lagMs[headline];
    log(
      `${rate} tx/s (achieved ${achieved}): lag p50 ${p.p50} ms, p99 ${p.p99} ms, max ${p.max} ms over ${p.count} changes ` +
        `(source.ts_ms: p99 ${figures.lagMs.sourceTsMs.p99} ms; client stamp: p99 ${figures.lagMs.clientStamp.p99} ms; ` +
        `of which commit → Kafka p50/p99 ${figures.lagMs.split.debeziumToKafka.p50}/${figures.lagMs.split.debeziumToKafka.p99} ms, ` +
        `Kafka → shadow p50/p99 ${figures.lagMs.split.kafkaToShadow.p50}/${figures.lagMs.split.kafkaToShadow.p99} ms)`,
    );
    return figures;
  } finally {
    await running?.stop().catch(() => undefined);
    await watcher?.disconnect().catch(() => undefined);
    if (overlay) {
      const dialect = await loadDialect(isPg ? "postgres" : "mysql");
      const cleaner = new dialect.Target(shadowUrl);
      await cleaner.uninstallOverlay(overlayNames({ schema, name: table })).catch(() => undefined);
      await cleaner.close();
    }
    await shadow.run(`DROP TABLE IF EXISTS ${table}`);
    await shadow.run(`DELETE FROM shadowdb_positions WHERE group_id = '${group}'`).catch(() => undefined);
    await prod.run(`DROP TABLE IF EXISTS ${table}`);
    // Dropped in prod, the table sends nothing more (PostgreSQL sends nothing for DDL, MariaDB's
    // DROP goes to the schema-change topic): its topic and groups can go. Connect's producer may
    // re-create the topic, empty, from its metadata cache for a few minutes; that is harmless.
    await admin.deleteGroups([group, `${group}-watch`]).catch(() => undefined);
    if ((await admin.listTopics()).includes(topic)) await admin.deleteTopics({ topics: [topic] });
    await Promise.allSettled([prod.close(), shadow.close(), admin.disconnect()]);
  }
}

const measured = [];
for (const rate of rates) measured.push(await measure(rate));
const rateKey = (rate: number) => (rate % 1000 === 0 ? `${rate / 1000}k` : String(rate));
const result = {
  benchmark: "latency",
  engine,
  date: new Date().toISOString(),
  node: process.version,
  seconds,
  warmupSeconds: warmup,
  clients,
  prefilledRows: prefill,
  overlay,
  workload:
    "single-row autocommit transactions: 50% INSERT of a new row, 50% UPDATE of a random prefilled row",
  clocks:
    "source.ts_ms is the source database's commit clock (MariaDB: whole seconds), the shadow's commit time is this process's clock; both run on this machine (one kernel clock). clientStamp uses this process's clock at both ends.",
  rates: measured,
};
writeResults(
  `latency-${engine}`,
  result,
  Object.fromEntries(
    measured.map((m) => [`${isPg ? "" : "my_"}p99_lag_ms_at_${rateKey(m.rate)}`, m.lagMs[m.headline].p99]),
  ),
);
process.exit(0);
