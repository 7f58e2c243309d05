/**
 * bench/apply: how fast the materializer applies a Debezium stream that is already in Kafka.
 * Writes N changes (half inserts, half updates) to a fresh table in `prod` through the real
 * stack, waits until Debezium has published them all, then times shadowdb from start until its
 * stored position reaches the topic's end. Each variant is the built `shadowdb run` (dist/) in a
 * process of its own, so its peak RSS is the kernel's high-water mark of the product's process
 * (VmHWM), uninherited from another variant. Prints changes/s, peak RSS and RSS every 2 s against
 * the backlog left (memory must not grow with the backlog); writes
 * bench/results/apply-<engine>.json and peak_rss_mb (the memory goal's figure: the worst variant).
 * Variants (apply.batchSize, "+overlay" with the overlay on, "+fetch8" kafka.fetchMaxBytes in MiB,
 * "+semi8" V8's --max-semi-space-size in MiB, "+arena2" / "+mmap" glibc malloc settings, "+alt" the
 * build at BENCH_CLI_ALT, for an A/B of two commits in one run)
 * run one after another on the same published stream, each into a fresh table.
 * Usage: tsx bench/apply.ts postgres|mariadb [changes] [variants, default 2000,5000,5000+overlay]
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { overlayNames } from "../src/overlay/names.ts";
import { loadDialect } from "../src/target/load.ts";
import { stackEnv } from "../stack/layout.ts";
import { kafkaClient, waitForTopic } from "../test/support/kafka.ts";
import { freePort } from "../test/support/net.ts";
import {
  builtCli,
  type Engine,
  flushToDisk,
  memoryOf,
  openDb,
  readSummary,
  startShadowdb,
  writeResults,
} from "./support.ts";

const engine: Engine = process.argv[2] === "mariadb" ? "mariadb" : "postgres";
const cli = builtCli();
/** Another build of shadowdb (its dist/cli/main.js) for "+alt" variants: an A/B in one run. */
const altCli = process.env.BENCH_CLI_ALT;
const tmp = mkdtempSync(path.join(tmpdir(), "bench-apply-"));

interface HeapMiB {
  used: number;
  total: number;
  external: number;
}

/** Where the process's memory is, from its own /metrics (prom-client's Node figures), in MiB. */
async function heapOf(port: number): Promise<HeapMiB | undefined> {
  try {
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    const mib = (name: string) =>
      Math.round(Number(new RegExp(`^shadowdb_${name} (\\S+)`, "m").exec(text)?.[1] ?? Number.NaN) / 2 ** 20);
    return {
      used: mib("nodejs_heap_size_used_bytes"),
      total: mib("nodejs_heap_size_total_bytes"),
      external: mib("nodejs_external_memory_bytes"),
    };
  } catch {
    return undefined; // Not listening yet.
  }
}

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
  /** kafka.fetchMaxBytes in MiB ("+fetch8"); the default when absent. */
  fetchMiB?: number;
  /** V8's --max-semi-space-size in MiB for the process ("+semi8"); Node's default when absent. */
  semiMiB?: number;
  /** Runs BENCH_CLI_ALT's build instead of this one ("+alt"). */
  alt: boolean;
  /** glibc malloc settings for the process: "+arena2" MALLOC_ARENA_MAX=2, "+mmap" a fixed mmap threshold. */
  malloc: Record<string, string>;
}

const mallocFlags: Record<string, Record<string, string>> = {
  arena2: { MALLOC_ARENA_MAX: "2" },
  // A fixed threshold turns off glibc's dynamic one, which rises to the largest freed mmap
  // (a 16 MiB fetch) and then serves such buffers from arenas that never shrink back.
  mmap: { MALLOC_MMAP_THRESHOLD_: "131072" },
};

// Side by side on the same published stream, each into its own fresh table with its own group.
const variants: Variant[] = (process.argv[4] ?? "2000,5000,5000+overlay").split(",").map((v) => {
  const [size, ...flags] = v.split("+");
  const fetch = flags.find((f) => /^fetch\d+$/.test(f));
  const semi = flags.find((f) => /^semi\d+$/.test(f));
  const unknown = flags.filter(
    (f) => f !== "overlay" && f !== "alt" && f !== fetch && f !== semi && !(f in mallocFlags),
  );
  if (flags.includes("alt") && !altCli)
    throw new Error(`variant ${v} needs BENCH_CLI_ALT (another build's dist/cli/main.js)`);
  if (!(Number(size) > 0) || unknown.length > 0)
    throw new Error(`bad variant ${v}: expected SIZE[+overlay][+fetchMIB][+semiMIB]`);
  return {
    name: v,
    batchSize: Number(size),
    overlay: flags.includes("overlay"),
    ...(fetch ? { fetchMiB: Number(fetch.slice(5)) } : {}),
    ...(semi ? { semiMiB: Number(semi.slice(4)) } : {}),
    alt: flags.includes("alt"),
    malloc: Object.assign({}, ...flags.filter((f) => f in mallocFlags).map((f) => mallocFlags[f])),
  };
});
const schema = engine === "postgres" ? "public" : "shadow";
const measured = [];
for (const [i, variant] of variants.entries()) {
  const target = `${table}_v${i}`;
  const variantGroup = `${group}-v${i}`;
  await shadow.run(ddl.replace(table, target));
  const port = await freePort();
  const configFile = path.join(tmp, `${target}.yaml`);
  writeFileSync(
    configFile,
    `
kafka: { brokers: "${env.SHADOWDB_KAFKA_BROKERS}", groupId: "${variantGroup}"${variant.fetchMiB ? `, fetchMaxBytes: ${variant.fetchMiB * 2 ** 20}` : ""} }
target: { dialect: ${engine === "postgres" ? "postgres" : "mysql"}, url: "${engine === "postgres" ? env.SHADOWDB_PG_SHADOW_URL : env.SHADOWDB_MY_SHADOW_URL}" }
tables: [ { topic: "${topic}", table: "${schema}.${target}" } ]
apply: { batchSize: ${variant.batchSize} }
overlay: { enabled: ${variant.overlay} }
deadLetter: { table: "${schema}.shadowdb_dead_letters" }
http: { port: ${port}, host: 127.0.0.1, adminToken: bench-admin-token-0123456789 }
log: { level: warn }
`,
  );
  // The publish (and the variant before) left dirty pages; their writeback must not fall in here.
  flushToDisk();
  const start = performance.now();
  // The product itself, one fresh process per variant: its RSS is the deployed process's, and no
  // variant inherits the heap another grew.
  const v8 = variant.semiMiB ? [`--max-semi-space-size=${variant.semiMiB}`] : [];
  const child = startShadowdb(variant.alt ? altCli! : cli, configFile, {
    nodeArgs: v8,
    env: variant.malloc,
    label: `variant ${variant.name}`,
  });
  // RSS while the backlog drains: it must stay flat (fetches are bounded), not grow with the backlog.
  const drain: { seconds: number; backlog: number; rssMiB: number; heap?: HeapMiB }[] = [];
  let sampledAt = 0;
  for (let position = 0n; position < end; position = await shadow.position(variantGroup)) {
    if (!child.alive())
      throw new Error(`shadowdb run exited before applying the backlog (variant ${variant.name})`);
    const now = performance.now();
    if (now - sampledAt >= 2000) {
      sampledAt = now;
      const sample = {
        seconds: Number(((now - start) / 1000).toFixed(1)),
        backlog: Number(end - position),
        rssMiB: memoryOf(child.pid).rssMiB,
        heap: await heapOf(port),
      };
      drain.push(sample);
      console.log(`  ${variant.name}: ${JSON.stringify(sample)}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  const seconds = (performance.now() - start) / 1000;
  // The kernel's high-water mark of the process's resident set: no sample can miss the peak.
  const { peakMiB } = memoryOf(child.pid);
  const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const batches = Number(
    /^shadowdb_apply_batch_records_count(?:\{[^}]*\})? (\d+)/m.exec(metrics)?.[1] ?? Number.NaN,
  );
  await child.stop();
  const stats = { batches };
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
    peakRssMiB: peakMiB,
    drain,
  };
  console.log(JSON.stringify(figures));
  measured.push(figures);
}
await admin.disconnect();
rmSync(tmp, { recursive: true, force: true });
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
  ...(altCli ? { altBuild: `"+alt" variants ran ${altCli}` } : {}),
  variants: measured,
};
console.log(JSON.stringify(result, null, 2));
// Headlines are this build's: "+alt" variants are the other side of an A/B.
const ours = measured.filter((m) => !variants.find((v) => v.name === m.variant)?.alt);
const peak = Math.max(...ours.map((m) => m.peakRssMiB));
writeResults(`apply-${engine}`, result, {
  [`${engine === "postgres" ? "pg" : "my"}_apply_changes_per_s`]: Math.max(
    ...ours.map((m) => m.changesPerSecond),
  ),
  // The memory goal's figure: the shadowdb process draining this backlog, at its worst variant,
  // and the worse of the two engines for peak_rss_mb.
  [`${engine === "postgres" ? "pg" : "my"}_peak_rss_mb`]: peak,
  peak_rss_mb: Math.max(peak, readSummary()[`${engine === "postgres" ? "my" : "pg"}_peak_rss_mb`] ?? 0),
});
process.exit(0);
