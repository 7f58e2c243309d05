/**
 * Every benchmark in bench/ run as `npm run bench:*` would run it (a child process), on a tiny
 * input against the real stack, so none can rot between the long runs: each must exit 0 and write
 * its result file with plausible figures. SHADOWDB_BENCH_RESULTS points them at a temporary
 * directory, so a smoke run never touches bench/results. The figures themselves mean nothing at
 * this size (start-up dominates); only their presence is checked.
 */
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { rest } from "../../stack/connect.ts";
import { repoRoot } from "../../stack/layout.ts";
import { services } from "../support/env.ts";

const results = mkdtempSync(path.join(tmpdir(), "bench-smoke-"));

before(async () => {
  // The benchmarks use the local stack; this fails with the reason when it is not there.
  await services();
});
after(() => rmSync(results, { recursive: true, force: true }));

/** Runs `node --import tsx bench/<script> ...args`; rejects with the output's tail unless it exits 0. */
function bench(script: string, args: string[], env: Record<string, string> = {}, timeoutMs = 150_000) {
  return new Promise<string>((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", path.join("bench", script), ...args], {
      cwd: repoRoot,
      env: { ...process.env, ...env, SHADOWDB_BENCH_RESULTS: results },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (d: Buffer) => (output += d.toString()));
    child.stderr.on("data", (d: Buffer) => (output += d.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", reject);
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(output);
      else
        reject(
          new Error(
            `bench/${script} ${args.join(" ")} exited with ${code ?? signal}${signal === "SIGKILL" ? ` (killed after ${timeoutMs / 1000}s)` : ""}:\n${output.slice(-4000)}`,
          ),
        );
    });
  });
}

// biome-ignore lint/suspicious/noExplicitAny: result files are checked field by field below
const resultFile = (name: string): any => {
  const file = path.join(results, `${name}.json`);
  assert.ok(existsSync(file), `${name}.json was not written to SHADOWDB_BENCH_RESULTS`);
  return JSON.parse(readFileSync(file, "utf8"));
};
const summary = (): Record<string, number> => resultFile("summary");

/** A finite number above zero, named in the failure. */
function positive(value: unknown, what: string): void {
  assert.ok(typeof value === "number" && Number.isFinite(value) && value > 0, `${what} = ${value}`);
}

test("bench:decode on 2000 messages", { timeout: 120_000 }, async () => {
  await bench("decode.ts", [], { BENCH_MESSAGES: "2000", BENCH_ROUNDS: "1" });
  const r = resultFile("decode");
  assert.equal(r.results.length, 2);
  for (const m of r.results) {
    positive(m.decode.messagesPerSecond, `decode ${m.mode} msg/s`);
    positive(m.jsonParse.messagesPerSecond, `JSON.parse ${m.mode} msg/s`);
    positive(m.ratio, `decode ${m.mode} ratio`);
  }
  positive(summary().decode_ratio_vs_json_parse, "summary decode_ratio_vs_json_parse");
});

test("bench:apply postgres 2000 5000", { timeout: 180_000 }, async () => {
  await bench("apply.ts", ["postgres", "2000", "5000+overlay+fetch4"]);
  const r = resultFile("apply-postgres");
  assert.equal(r.changes, 2000);
  assert.equal(r.variants.length, 1);
  positive(r.variants[0].changesPerSecond, "changes/s");
  positive(r.variants[0].peakRssMiB, "peak RSS");
  positive(r.variants[0].batches, "batches (from the process's /metrics)");
  positive(summary().peak_rss_mb, "summary peak_rss_mb");
  positive(summary().pg_apply_changes_per_s, "summary pg_apply_changes_per_s");
});

test("bench:copy 2000 rows", { timeout: 180_000 }, async () => {
  await bench("copy.ts", ["2000"], { BENCH_BATCH: "1000", BENCH_ROUNDS: "1" });
  const r = resultFile("copy");
  assert.equal(r.rows, 2000);
  for (const v of r.results)
    for (const phase of ["insert", "update"]) {
      positive(v[phase].unnestRowsPerSecond, `${v.variant} ${phase} unnest rows/s`);
      positive(v[phase].copyRowsPerSecond, `${v.variant} ${phase} COPY rows/s`);
    }
  assert.ok(r.sweep.length > 0);
  for (const s of r.sweep) positive(s.ratio, `sweep ${s.batchRows} ratio`);
});

test("bench:overlay postgres, 1 s rounds, 1 client", { timeout: 180_000 }, async () => {
  const pgbench = spawnSync("pgbench", ["--version"], { encoding: "utf8" });
  assert.equal(pgbench.status, 0, "bench:overlay on PostgreSQL needs pgbench on the PATH");
  await bench("overlay.ts", ["postgres", "1", "1"]);
  const r = resultFile("overlay-postgres");
  for (const w of ["write", "read"]) {
    positive(r[w].plainTps, `${w} plain tx/s`);
    positive(r[w].overlayTps, `${w} overlay tx/s`);
  }
  const overhead = summary().overlay_write_overhead;
  assert.ok(
    typeof overhead === "number" && Number.isFinite(overhead),
    `overlay_write_overhead = ${overhead}`,
  );
  assert.equal(overhead, Number((1 - r.write.ratio).toFixed(3)));
});

test("bench:vs-sink postgres 2000 narrow 500", { timeout: 240_000 }, async () => {
  await bench("vs-sink.ts", ["postgres", "2000", "narrow", "500"], {}, 220_000);
  const r = resultFile("vs-sink-postgres-narrow");
  positive(r.shadowdb.changesPerSecond, "shadowdb changes/s");
  positive(r.jdbcSink.changesPerSecond, "JDBC sink changes/s");
  positive(r.ratio, "ratio");
  positive(summary().pg_apply_ratio_vs_jdbc_sink, "summary pg_apply_ratio_vs_jdbc_sink");
});

for (const engine of ["postgres", "mariadb"] as const) {
  const key = engine === "postgres" ? "snapshot_fraction_of_copy" : "my_snapshot_fraction_of_copy";
  test(`bench:snapshot ${engine} 2000`, { timeout: 180_000 }, async () => {
    await bench("snapshot.ts", [engine, "2000"]);
    const r = resultFile(`snapshot-${engine}`);
    assert.equal(r.rows, 2000);
    assert.equal(r.records, 2000);
    positive(r.shadowdb.rowsPerSecond, "shadowdb rows/s");
    positive(r.copy.rowsPerSecond, "COPY rows/s");
    positive(r.debeziumSnapshot.rowsPerSecond, "Debezium snapshot rows/s");
    positive(r.shadowdb.fractionOfCopy, "fraction from Kafka");
    positive(r.seed.rowsPerSecond, "seed rows/s");
    positive(r.seed.fractionOfCopy, "seed fraction");
    positive(summary()[key], `summary ${key}`);
    const stream =
      engine === "postgres" ? "snapshot_stream_fraction_of_copy" : "my_snapshot_stream_fraction_of_copy";
    positive(summary()[stream], `summary ${stream}`);
    // Its temporary connector is gone again.
    const { json: connectors } = await rest<string[]>("GET", "/connectors");
    assert.deepEqual(
      connectors.filter((c) => c.startsWith("shadowdb-snapbench-")),
      [],
    );
  });
}

for (const engine of ["postgres", "mariadb"] as const) {
  const key = engine === "postgres" ? "p99_lag_ms_at_200" : "my_p99_lag_ms_at_200";
  test(`bench:latency ${engine} 200 tx/s for 5 s`, { timeout: 180_000 }, async () => {
    await bench("latency.ts", [engine, "200", "5"], { BENCH_ROWS: "2000" });
    const r = resultFile(`latency-${engine}`);
    assert.equal(r.rates.length, 1);
    const [rate] = r.rates;
    assert.equal(rate.rate, 200);
    positive(rate.achievedRate, "achieved tx/s");
    positive(rate.measuredTransactions, "transactions in the measured window");
    for (const measure of ["sourceTsMs", "clientStamp"]) {
      positive(rate.lagMs[measure].count, `${measure} samples`);
      positive(rate.lagMs[measure].p99, `${measure} p99`);
    }
    positive(rate.lagMs.split.kafkaToShadow.count, "split samples");
    positive(summary()[key], `summary ${key}`);
  });
}

test("bench:results writes RESULTS.md from the smoke's results", { timeout: 60_000 }, async () => {
  await bench("results-md.ts", []);
  const markdown = readFileSync(path.join(results, "RESULTS.md"), "utf8");
  for (const heading of [
    "## Machine, versions, date",
    "## Goals",
    "## Apply",
    "## shadowdb against the Debezium JDBC sink",
    "## Snapshot",
    "## Latency",
    "## Overlay cost",
    "## PostgreSQL upsert paths",
    "## Decoding",
  ])
    assert.ok(markdown.includes(heading), `RESULTS.md has no "${heading}"`);
  assert.match(markdown, /\| Debezium \(stack\/pom\.xml\) \| \d+\.\d+\.\d+\.\w+ \|/);
  assert.match(markdown, /\| `snapshot_fraction_of_copy` \| [\d.]+ %/);
  // Every result file of the smoke says which CPUs it ran on, and RESULTS.md names them.
  assert.match(markdown, /\| CPU of [^|]*vs-sink-postgres[^|]* \| (\d+ × [^|]+) \|/);
  assert.ok(!markdown.includes("| not recorded |"), "a smoke result file without its CPU");
});
