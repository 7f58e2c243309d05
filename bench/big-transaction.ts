/**
 * bench/big-transaction: the peak RSS of `shadowdb run` applying single transactions of N rows
 * (issue 18: held in memory, a 1M-event transaction took 4.6 GB in source mode and crashed above
 * ~125k events). Writes one INSERT of N rows and one UPDATE of all of them to a fresh table in
 * `prod`, each ONE production transaction, waits until Debezium has published them, then runs the
 * built shadowdb (dist/) once per mode, each in a process of its own with its own group and table,
 * from the beginning of the topics until the shadow holds the updated rows. Prints each mode's
 * seconds and peak RSS (VmHWM, the kernel's high-water mark of the process).
 * Usage: tsx bench/big-transaction.ts postgres|mariadb [rows, default 1000000] [modes, default source,table]
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { stackEnv } from "../stack/layout.ts";
import { kafkaClient, waitForTopic } from "../test/support/kafka.ts";
import { builtCli, type Engine, flushToDisk, memoryOf, openDb, sleep, startShadowdb } from "./support.ts";

const engine: Engine = process.argv[2] === "mariadb" ? "mariadb" : "postgres";
const rows = Number(process.argv[3] ?? 1_000_000);
const modes = (process.argv[4] ?? "source,table").split(",") as ("source" | "table")[];
const cli = builtCli();
const env = stackEnv();
const tmp = mkdtempSync(path.join(tmpdir(), "bench-big-tx-"));
const suffix = randomBytes(3).toString("hex");
const table = `hc_bt_${suffix}`;
const ddl = `CREATE TABLE ${table} (id int PRIMARY KEY, v int NOT NULL, pad varchar(100) NOT NULL)`;
const pg = engine === "postgres";
const prod = await openDb(engine, pg ? env.SHADOWDB_PG_PROD_URL : env.SHADOWDB_MY_PROD_URL);
const shadow = await openDb(engine, pg ? env.SHADOWDB_PG_SHADOW_URL : env.SHADOWDB_MY_SHADOW_URL);
const prefix = pg ? env.SHADOWDB_PG_TOPIC_PREFIX : env.SHADOWDB_MY_TOPIC_PREFIX;
const topic = `${prefix}.${pg ? "public" : "prod"}.${table}`;
const schema = pg ? "public" : "shadow";

await prod.run(ddl);
const series = pg
  ? `SELECT g, 1, repeat('x', 60) FROM generate_series(1, ${rows}) g`
  : `SELECT seq, 1, repeat('x', 60) FROM seq_1_to_${rows}`;
await prod.run(`INSERT INTO ${table} ${series}`);
await prod.run(`UPDATE ${table} SET v = 2`);
const kafka = kafkaClient(env.SHADOWDB_KAFKA_BROKERS);
await waitForTopic(kafka, topic);
const admin = kafka.admin();
await admin.connect();
for (let end = 0n; end < BigInt(2 * rows); await sleep(1000)) {
  end = (await admin.fetchTopicOffsets(topic)).reduce((n, p) => n + BigInt(p.high), 0n);
}
await admin.disconnect();

const results: Record<string, unknown>[] = [];
try {
  for (const mode of modes) {
    const target = `${table}_${mode}`;
    const group = `hc-bt-${suffix}-${mode}`;
    await shadow.run(ddl.replace(table, target));
    const configFile = path.join(tmp, `${target}.yaml`);
    writeFileSync(
      configFile,
      `
kafka: { brokers: "${env.SHADOWDB_KAFKA_BROKERS}", groupId: "${group}" }
target: { dialect: ${pg ? "postgres" : "mysql"}, url: "${pg ? env.SHADOWDB_PG_SHADOW_URL : env.SHADOWDB_MY_SHADOW_URL}" }
tables: [ { topic: "${topic}", table: "${schema}.${target}" } ]
apply: { transactional: ${mode}${mode === "source" ? `, transactionTopic: "${prefix}.transaction"` : ""} }
deadLetter: { table: "${schema}.shadowdb_dead_letters" }
http: { port: 0 }
log: { level: info }
`,
    );
    flushToDisk();
    const start = performance.now();
    const child = startShadowdb(cli, configFile, { label: mode });
    let last = "";
    for (let sampled = 0; ; await sleep(1000)) {
      if (!child.alive()) throw new Error(`shadowdb run (${mode}) exited before applying the transactions`);
      const { c, lo } = await shadow.one(`SELECT count(*) AS c, min(v) AS lo FROM ${target}`);
      last = `${c} rows, min(v) ${lo}`;
      if (Number(c) === rows && Number(lo) === 2) break;
      if (++sampled % 10 === 0) console.log(`${mode}: ${last}, RSS ${memoryOf(child.pid).rssMiB} MiB`);
    }
    const seconds = (performance.now() - start) / 1000;
    const { peakMiB } = memoryOf(child.pid);
    await child.stop();
    results.push({ engine, mode, rows, seconds: Number(seconds.toFixed(1)), peakRssMiB: peakMiB });
    console.log(JSON.stringify(results.at(-1)));
    await shadow.run(`DROP TABLE ${target}`);
    await shadow.run(`DELETE FROM shadowdb_positions WHERE group_id = '${group}'`);
  }
} finally {
  await prod.run(`DROP TABLE IF EXISTS ${table}`);
  await prod.close();
  await shadow.close();
  rmSync(tmp, { recursive: true, force: true });
}
console.log(JSON.stringify(results));
