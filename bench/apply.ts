/**
 * bench/apply: how fast the materializer applies a Debezium stream that is already in Kafka.
 * Writes N changes (half inserts, half updates) to a fresh table in `prod` through the real
 * stack, waits until Debezium has published them all, then times shadowdb from start until its
 * stored position reaches the topic's end. Prints changes/s, peak RSS and RSS every 2 s against
 * the backlog left (memory must not grow with the backlog); writes
 * bench/results/apply-<engine>.json. Variants (apply.batchSize, "+overlay" with the overlay on)
 * run one after another on the same published stream, each into a fresh table.
 * Usage: tsx bench/apply.ts postgres|mariadb [changes] [variants, default 2000,5000,5000+overlay]
 */
import { randomBytes } from "node:crypto";
import { overlayNames } from "../src/overlay/names.ts";
import { loadDialect } from "../src/target/load.ts";
import { stackEnv } from "../stack/layout.ts";
import { kafkaClient, waitForTopic } from "../test/support/kafka.ts";
import { startMaterializer } from "../test/support/materialize.ts";
import { type Engine, maxHeadline, openDb, writeResults } from "./support.ts";

const engine: Engine = process.argv[2] === "mariadb" ? "mariadb" : "postgres";
const changes = Number(process.argv[3] ?? 1_000_000);
const env = stackEnv();
const suffix = randomBytes(3).toString("hex");
const table = `bench_${suffix}`;
const group = `bench-${suffix}`;
const perStatement = 50_000;
const ddl = `CREATE TABLE ${table} (id bigint PRIMARY KEY, version int NOT NULL, payload varchar(64) NOT NULL, amount decimal(12,2) NOT NULL)`;

const prod = await openDb(
  engine,
  engine === "postgres" ? env.SHADOWDB_PG_PROD_URL : env.SHADOWDB_MY_PROD_URL,
);
const shadow = await openDb(
  engine,
  engine === "postgres" ? env.SHADOWDB_PG_SHADOW_URL : env.SHADOWDB_MY_SHADOW_URL,
);
const topic =
  engine === "postgres"
    ? `${env.SHADOWDB_PG_TOPIC_PREFIX}.public.${table}`
    : `${env.SHADOWDB_MY_TOPIC_PREFIX}.prod.${table}`;
await prod.run(ddl);
await shadow.run(ddl);
const rows = Math.floor(changes / 2);
const series = (from: number, to: number) =>
  engine === "postgres"
    ? `SELECT g, 1, md5(g::text), g / 100.0 FROM generate_series(${from}, ${to}) g`
    : `SELECT seq, 1, md5(seq), seq / 100.0 FROM seq_${from}_to_${to}`;
const writeStart = performance.now();
for (let from = 1; from <= rows; from += perStatement) {
  await prod.run(`INSERT INTO ${table} ${series(from, Math.min(rows, from + perStatement - 1))}`);
}
for (let from = 1; from <= changes - rows; from += perStatement) {
  await prod.run(
    `UPDATE ${table} SET version = version + 1 WHERE id BETWEEN ${from} AND ${Math.min(changes - rows, from + perStatement - 1)}`,
  );
}
const kafka = kafkaClient(env.SHADOWDB_KAFKA_BROKERS);
await waitForTopic(kafka, topic);
const admin = kafka.admin();
await admin.connect();
let end = 0n;
while (end < BigInt(changes)) {
  end = (await admin.fetchTopicOffsets(topic)).reduce((n, p) => n + BigInt(p.high), 0n);
  await new Promise((r) => setTimeout(r, 500));
}
const published = (performance.now() - writeStart) / 1000;

interface Variant {
  name: string;
  batchSize: number;
  overlay: boolean;
}

// Side by side on the same published stream, each into its own fresh table with its own group.
const variants: Variant[] = (process.argv[4] ?? "2000,5000,5000+overlay").split(",").map((v) => ({
  name: v,
  batchSize: Number(v.split("+")[0]),
  overlay: v.endsWith("+overlay"),
}));
const schema = engine === "postgres" ? "public" : "shadow";
const measured = [];
for (const [i, variant] of variants.entries()) {
  const target = `${table}_v${i}`;
  const variantGroup = `${group}-v${i}`;
  await shadow.run(ddl.replace(table, target));
  let peakRss = 0;
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 200);
  const start = performance.now();
  const running = await startMaterializer(`
kafka: { brokers: "${env.SHADOWDB_KAFKA_BROKERS}", groupId: "${variantGroup}" }
target: { dialect: ${engine === "postgres" ? "postgres" : "mysql"}, url: "${engine === "postgres" ? env.SHADOWDB_PG_SHADOW_URL : env.SHADOWDB_MY_SHADOW_URL}" }
tables: [ { topic: "${topic}", table: "${schema}.${target}" } ]
apply: { batchSize: ${variant.batchSize} }
overlay: { enabled: ${variant.overlay} }
deadLetter: { table: "${schema}.shadowdb_dead_letters" }
http: { port: 0 }
`);
  // RSS while the backlog drains: it must stay flat (fetches are bounded), not grow with the backlog.
  const drain: { seconds: number; backlog: number; rssMiB: number }[] = [];
  let sampledAt = 0;
  for (let position = 0n; position < end; position = await shadow.position(variantGroup)) {
    running.assertAlive();
    const now = performance.now();
    if (now - sampledAt >= 2000) {
      sampledAt = now;
      const sample = {
        seconds: Number(((now - start) / 1000).toFixed(1)),
        backlog: Number(end - position),
        rssMiB: Math.round(process.memoryUsage().rss / 2 ** 20),
      };
      drain.push(sample);
      console.log(`  ${variant.name}: ${JSON.stringify(sample)}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  const seconds = (performance.now() - start) / 1000;
  clearInterval(sampler);
  const stats = { ...running.materializer.stats };
  await running.stop();
  if (variant.overlay) {
    const dialect = await loadDialect(engine === "postgres" ? "postgres" : "mysql");
    const cleaner = new dialect.Target(
      engine === "postgres" ? env.SHADOWDB_PG_SHADOW_URL : env.SHADOWDB_MY_SHADOW_URL,
    );
    await cleaner.uninstallOverlay(overlayNames({ schema, name: target }));
    await cleaner.close();
  }
  await shadow.run(`DROP TABLE ${target}`);
  await shadow.run(`DELETE FROM shadowdb_positions WHERE group_id = '${variantGroup}'`);
  const figures = {
    variant: variant.name,
    applySeconds: Number(seconds.toFixed(1)),
    changesPerSecond: Math.round(changes / seconds),
    batches: stats.batches,
    peakRssMiB: Math.round(peakRss / 2 ** 20),
    drain,
  };
  console.log(JSON.stringify(figures));
  measured.push(figures);
}
await admin.disconnect();
await prod.run(`DROP TABLE ${table}`);
await shadow.run(`DROP TABLE ${table}`);
await prod.close();
await shadow.close();

const result = {
  benchmark: "apply",
  engine,
  date: new Date().toISOString(),
  changes,
  debeziumPublishSeconds: Number(published.toFixed(1)),
  variants: measured,
};
console.log(JSON.stringify(result, null, 2));
writeResults(`apply-${engine}`, result, {
  [`${engine === "postgres" ? "pg" : "my"}_apply_changes_per_s`]: Math.max(
    ...measured.map((m) => m.changesPerSecond),
  ),
  ...maxHeadline("peak_rss_mb", Math.max(...measured.map((m) => m.peakRssMiB))),
});
process.exit(0);
