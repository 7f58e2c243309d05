/**
 * bench/overlay: what the overlay's triggers cost the shadow service's own writes, and that its
 * reads cost nothing. Two identical tables in the shadow database, one with the overlay
 * installed; the same workload runs against each in alternating rounds (the overlay is reset
 * before each of its rounds, so first writes, which copy production's row aside, keep happening).
 * PostgreSQL: pgbench with custom scripts. MariaDB: the same loop from Node (no sysbench here),
 * each client on its own connection. Prints transactions/s per side and their ratio; writes
 * bench/results/overlay-<engine>.json (SHADOWDB_BENCH_RESULTS elsewhere) and overlay_write_overhead
 * (my_overlay_write_overhead for MariaDB), 1 - the write ratio, to summary.json.
 * Usage: tsx bench/overlay.ts postgres|mariadb [seconds] [clients]
 */
import { spawnSync } from "node:child_process";
import { randomInt } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import mysql from "mysql2/promise";
import pg from "pg";
import { overlayNames } from "../src/overlay/names.ts";
import { loadDialect } from "../src/target/load.ts";
import { stackEnv } from "../stack/layout.ts";
import { writeResults } from "./support.ts";

const engine = process.argv[2] === "mariadb" ? "mariadb" : "postgres";
const seconds = Number(process.argv[3] ?? 10);
const clients = Number(process.argv[4] ?? 4);
const rounds = 3;
const rows = 100_000;
const env = stackEnv();
const url = engine === "postgres" ? env.SHADOWDB_PG_SHADOW_URL : env.SHADOWDB_MY_SHADOW_URL;
const schema = engine === "postgres" ? "public" : "shadow";
const plain = "obench_plain";
const overlaid = "obench_overlay";

type Workload = "write" | "read";

/** One statement of the shadow service per transaction: updates, with some inserts and deletes. */
const pgScripts: Record<Workload, (table: string) => string> = {
  write: (table) => `\\set id random(1, ${rows * 2})
\\set kind random(1, 10)
\\set v random(1, 1000000)
\\if :kind <= 8
UPDATE ${table} SET v = :v WHERE id = :id;
\\elif :kind = 9
INSERT INTO ${table} (id, v, note) VALUES (:id, :v, 'shadow') ON CONFLICT (id) DO NOTHING;
\\else
DELETE FROM ${table} WHERE id = :id;
\\endif
`,
  read: (table) => `\\set id random(1, ${rows})
SELECT v, note FROM ${table} WHERE id = :id;
`,
};

async function setUp(): Promise<void> {
  const dialect = await loadDialect(engine === "postgres" ? "postgres" : "mysql");
  const target = new dialect.Target(url);
  await target.prepare();
  await target.uninstallOverlay(overlayNames({ schema, name: overlaid }));
  await target.close();
  const ddl = (t: string) =>
    `CREATE TABLE ${t} (id int PRIMARY KEY, v bigint NOT NULL, note varchar(40) NOT NULL)`;
  if (engine === "postgres") {
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    for (const t of [plain, overlaid]) {
      await c.query(`DROP TABLE IF EXISTS ${t}`);
      await c.query(ddl(t));
      await c.query(`INSERT INTO ${t} SELECT g, g, md5(g::text) FROM generate_series(1, ${rows}) g`);
      await c.query(`VACUUM ANALYZE ${t}`);
    }
    await c.end();
  } else {
    const c = await mysql.createConnection(url);
    for (const t of [plain, overlaid]) {
      await c.query(`DROP TABLE IF EXISTS ${t}`);
      await c.query(ddl(t));
      await c.query(`INSERT INTO ${t} SELECT seq, seq, md5(seq) FROM seq_1_to_${rows}`);
    }
    await c.end();
  }
}

async function overlay(action: "install" | "reset" | "uninstall"): Promise<void> {
  const dialect = await loadDialect(engine === "postgres" ? "postgres" : "mysql");
  const target = new dialect.Target(url);
  await target.prepare();
  const names = overlayNames({ schema, name: overlaid });
  if (action === "install") await target.installOverlay(names);
  if (action === "reset") await target.resetOverlay(names);
  if (action === "uninstall") await target.uninstallOverlay(names);
  await target.close();
}

function pgbench(table: string, workload: Workload): number {
  const dir = mkdtempSync(path.join(tmpdir(), "obench-"));
  const script = path.join(dir, `${workload}.sql`);
  writeFileSync(script, pgScripts[workload](table));
  const run = spawnSync(
    "pgbench",
    ["-n", "-f", script, "-c", String(clients), "-j", String(clients), "-T", String(seconds), url],
    { encoding: "utf8" },
  );
  const tps = /tps = ([\d.]+)/.exec(run.stdout)?.[1];
  if (run.status !== 0 || tps === undefined) throw new Error(`pgbench failed: ${run.stderr || run.stdout}`);
  return Number(tps);
}

/** The pgbench scripts' workload from Node, for MariaDB. */
async function nodeBench(table: string, workload: Workload): Promise<number> {
  const deadline = Date.now() + seconds * 1000;
  let done = 0;
  const client = async () => {
    const c = await mysql.createConnection(url);
    while (Date.now() < deadline) {
      const id = randomInt(1, (workload === "read" ? rows : rows * 2) + 1);
      if (workload === "read") {
        await c.query(`SELECT v, note FROM ${table} WHERE id = ?`, [id]);
      } else {
        const kind = randomInt(1, 11);
        const v = randomInt(1, 1_000_000);
        await c.query("BEGIN");
        if (kind <= 8) await c.query(`UPDATE ${table} SET v = ? WHERE id = ?`, [v, id]);
        else if (kind === 9)
          await c.query(
            `INSERT INTO ${table} (id, v, note) VALUES (?, ?, 'shadow') ON DUPLICATE KEY UPDATE id = id`,
            [id, v],
          );
        else await c.query(`DELETE FROM ${table} WHERE id = ?`, [id]);
        await c.query("COMMIT");
      }
      done++;
    }
    await c.end();
  };
  await Promise.all(Array.from({ length: clients }, client));
  return done / seconds;
}

const measure = (table: string, workload: Workload) =>
  engine === "postgres" ? Promise.resolve(pgbench(table, workload)) : nodeBench(table, workload);

await setUp();
await overlay("install");
const figures: Record<Workload, { plain: number[]; overlay: number[] }> = {
  write: { plain: [], overlay: [] },
  read: { plain: [], overlay: [] },
};
for (let round = 0; round < rounds; round++) {
  for (const workload of ["write", "read"] as const) {
    // Alternate which side goes first, so drift on a shared machine does not favour one side.
    const order = round % 2 === 0 ? [plain, overlaid] : [overlaid, plain];
    for (const table of order) {
      if (table === overlaid && workload === "write") await overlay("reset");
      const tps = await measure(table, workload);
      figures[workload][table === plain ? "plain" : "overlay"].push(tps);
      console.log(`round ${round + 1} ${workload} ${table}: ${tps.toFixed(0)} tx/s`);
    }
  }
}
await overlay("uninstall");

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const summary = Object.fromEntries(
  (["write", "read"] as const).map((w) => {
    const [p, o] = [median(figures[w].plain), median(figures[w].overlay)];
    return [w, { plainTps: Math.round(p), overlayTps: Math.round(o), ratio: Number((o / p).toFixed(3)) }];
  }),
);
const result = {
  benchmark: "overlay",
  engine,
  tool: engine === "postgres" ? "pgbench custom scripts" : "node loop (the same statements)",
  date: new Date().toISOString(),
  seconds,
  clients,
  rounds,
  rows,
  ...summary,
  all: figures,
};
console.log(JSON.stringify(result, null, 2));
// What the triggers cost the shadow's own writes: 1 - (overlaid / plain throughput).
writeResults(`overlay-${engine}`, result, {
  [engine === "postgres" ? "overlay_write_overhead" : "my_overlay_write_overhead"]: Number(
    (1 - summary.write!.ratio).toFixed(3),
  ),
});
process.exit(0);
