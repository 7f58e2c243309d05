/** What the benchmarks share: database sessions of either engine, and writing results. */
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import mysql from "mysql2/promise";
import pg from "pg";

const NO_SUCH_TABLE = 1146;

export type Engine = "postgres" | "mariadb";

export interface Db {
  run(sql: string): Promise<void>;
  /** The first row, every value as text (counts and sums come back as different types per driver). */
  one(sql: string): Promise<Record<string, string>>;
  /** shadowdb's stored position of a group: the next offset, summed over partitions. */
  position(group: string): Promise<bigint>;
  close(): Promise<void>;
}

const asText = (row: Record<string, unknown>) =>
  Object.fromEntries(Object.entries(row).map(([k, v]) => [k, String(v)]));

export async function openDb(engine: Engine, url: string): Promise<Db> {
  if (engine === "postgres") {
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    const one = async (sql: string) => asText((await c.query(sql)).rows[0] ?? {});
    return {
      run: async (sql) => void (await c.query(sql)),
      one,
      position: async (group) => {
        // Before shadowdb's first start the table is not there: nothing applied yet.
        const found = await c.query("SELECT to_regclass('shadowdb_positions') IS NOT NULL AS found");
        if (!found.rows[0].found) return 0n;
        const { rows } = await c.query(
          "SELECT coalesce(sum(next_offset), 0)::text AS n FROM shadowdb_positions WHERE group_id = $1",
          [group],
        );
        return BigInt(rows[0].n);
      },
      close: () => c.end(),
    };
  }
  const c = await mysql.createConnection({ uri: url });
  const one = async (sql: string) => asText(((await c.query(sql))[0] as Record<string, unknown>[])[0] ?? {});
  return {
    run: async (sql) => void (await c.query(sql)),
    one,
    position: async (group) => {
      try {
        const [rows] = await c.query(
          "SELECT CAST(coalesce(sum(next_offset), 0) AS CHAR) AS n FROM shadowdb_positions WHERE group_id = ?",
          [group],
        );
        return BigInt((rows as { n: string }[])[0]!.n);
      } catch (error) {
        // Before shadowdb's first start the table is not there: nothing applied yet.
        if ((error as { errno?: number }).errno === NO_SUCH_TABLE) return 0n;
        throw error;
      }
    },
    close: () => c.end(),
  };
}

/** bench/results, or SHADOWDB_BENCH_RESULTS (the smoke tests write to a temporary directory). */
export function resultsDir(): string {
  const dir =
    process.env.SHADOWDB_BENCH_RESULTS ?? path.join(path.dirname(fileURLToPath(import.meta.url)), "results");
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** This machine's CPUs as RESULTS.md names them: runs on different machines of a pool differ. */
export function cpuName(): string {
  const cpus = os.cpus();
  return `${cpus.length} × ${cpus[0]?.model.trim() ?? "unknown"}`;
}

/**
 * Writes `<name>.json`, with the CPUs it ran on, and merges `headline` into summary.json, the
 * flat file other scripts read.
 */
export function writeResults(name: string, result: object, headline: Record<string, number> = {}): void {
  const dir = resultsDir();
  writeFileSync(
    path.join(dir, `${name}.json`),
    `${JSON.stringify({ ...result, cpu: cpuName() }, null, 2)}\n`,
  );
  if (Object.keys(headline).length === 0) return;
  const file = path.join(dir, "summary.json");
  let summary: Record<string, number> = {};
  try {
    summary = JSON.parse(readFileSync(file, "utf8")) as Record<string, number>;
  } catch {
    // First figures.
  }
  writeFileSync(file, `${JSON.stringify({ ...summary, ...headline }, null, 2)}\n`);
}

/** The figures already in summary.json (empty when no benchmark has written one yet). */
export function readSummary(): Record<string, number> {
  try {
    return JSON.parse(readFileSync(path.join(resultsDir(), "summary.json"), "utf8")) as Record<
      string,
      number
    >;
  } catch {
    return {};
  }
}

/** Samples this process's RSS every 200 ms; `stop` ends sampling and returns the peak in MiB. */
export function rssSampler(): { stop(): number } {
  let peak = process.memoryUsage().rss;
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 200);
  return {
    stop() {
      clearInterval(timer);
      return Math.round(Math.max(peak, process.memoryUsage().rss) / 2 ** 20);
    },
  };
}

/** Exact percentiles of `values` (nearest rank), with count and max; zeros when there are none. */
export function percentiles(values: number[]): {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
} {
  const sorted = Float64Array.from(values).sort();
  const rank = (p: number) =>
    sorted.length === 0 ? 0 : sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)]!;
  const round = (n: number) => Number(n.toFixed(1));
  return {
    count: sorted.length,
    p50: round(rank(0.5)),
    p90: round(rank(0.9)),
    p99: round(rank(0.99)),
    max: round(sorted.length === 0 ? 0 : sorted[sorted.length - 1]!),
  };
}

/** The built `shadowdb` (dist/cli/main.js), which the benchmarks that time the product run. */
export function builtCli(): string {
  const cli = fileURLToPath(new URL("../dist/cli/main.js", import.meta.url));
  if (!existsSync(cli))
    throw new Error(`${cli} is missing: run npm run build first (the bench runs the built shadowdb)`);
  return cli;
}

/**
 * The built `shadowdb run --config <configFile>` in a process of its own, as it is deployed: its
 * peak RSS (memoryOf) is that process's alone. `stop` sends SIGTERM and requires a clean exit.
 */
export function startShadowdb(
  cli: string,
  configFile: string,
  options: { nodeArgs?: string[]; env?: Record<string, string>; label?: string } = {},
): { pid: number; alive(): boolean; stop(): Promise<void> } {
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), cli, "run", "--config", configFile], {
    stdio: ["ignore", "inherit", "inherit"],
    env: { ...process.env, ...options.env },
  });
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  let alive = true;
  void exited.then(() => (alive = false));
  const label = options.label ? ` (${options.label})` : "";
  return {
    pid: child.pid!,
    alive: () => alive,
    async stop() {
      child.kill("SIGTERM");
      if ((await exited) !== 0) throw new Error(`shadowdb run did not exit 0 on SIGTERM${label}`);
    },
  };
}

/** A process's resident set now and at its peak (VmHWM), from /proc. */
export function memoryOf(pid: number): { rssMiB: number; peakMiB: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kib = (field: string) =>
    Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? Number.NaN);
  return { rssMiB: Math.round(kib("VmRSS") / 1024), peakMiB: Math.round(kib("VmHWM") / 1024) };
}

/**
 * Writes the machine's dirty pages out (sync(1)) and returns how many MiB were waiting. Publishing
 * a 1M-change backlog leaves GBs of Kafka log and WAL in the page cache, which the kernel writes
 * back over the next minute: a phase timed right after the publish shared the disk with that
 * writeback and measured 25-30 % below the same build once it had finished (300k wide changes:
 * 15,724 against 22,973 changes/s with the flush first).
 */
export function flushToDisk(): number {
  const dirtyMiB = () =>
    Math.round(Number(/^Dirty:\s+(\d+) kB/m.exec(readFileSync("/proc/meminfo", "utf8"))?.[1] ?? 0) / 1024);
  const before = dirtyMiB();
  execFileSync("sync");
  return before;
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
