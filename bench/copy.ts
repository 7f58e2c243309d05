/**
 * bench/copy: the PostgreSQL upsert paths side by side, unnest against COPY through a staging
 * table, on a realistic wide table (17 columns: numbers, money, text with separators in it, times,
 * json, arrays, bytes). Writes N rows in batches the size the materializer sees during a snapshot,
 * first into an empty table (insert), then over the same keys (update); rounds alternate which
 * path goes first so both see the same machine noise. A sweep over batch sizes shows where COPY
 * starts to pay (the default threshold in src/target/postgres/copy.ts). Needs PostgreSQL only.
 * Writes bench/results/copy.json (SHADOWDB_BENCH_RESULTS elsewhere).
 * Usage: tsx bench/copy.ts [rows] (BENCH_BATCH, BENCH_ROUNDS).
 */
import { randomBytes } from "node:crypto";
import pg from "pg";
import type { ColumnType, Row } from "../src/decode/index.ts";
import type { QualifiedName, TableShape } from "../src/target/dialect.ts";
import { defaultCopyThreshold } from "../src/target/postgres/copy.ts";
import { PostgresTarget } from "../src/target/postgres/target.ts";
import { stackEnv } from "../stack/layout.ts";
import { writeResults } from "./support.ts";

const rows = Number(process.argv[2] ?? 200_000);
const batchRows = Number(process.env.BENCH_BATCH ?? 5_000);
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const sweepSizes = [10, 50, 100, 200, 500, 1_000, 5_000];
const url = process.env.SHADOWDB_PG_SHADOW_URL ?? stackEnv().SHADOWDB_PG_SHADOW_URL;
const suffix = randomBytes(3).toString("hex");

const columns: [string, string, ColumnType][] = [
  ["id", "bigint", { kind: "int64", optional: false }],
  ["tenant_id", "integer", { kind: "int32", optional: false }],
  ["email", "varchar(255)", { kind: "string", optional: false }],
  ["full_name", "text", { kind: "string", optional: true }],
  ["status", "text", { kind: "string", optional: false }],
  ["amount", "numeric(12,2)", { kind: "decimal", optional: false, precision: 12, scale: 2 }],
  ["balance", "numeric", { kind: "decimal", optional: true }],
  ["score", "double precision", { kind: "float64", optional: true }],
  ["active", "boolean", { kind: "boolean", optional: false }],
  ["birth_date", "date", { kind: "date", optional: true }],
  ["created_at", "timestamptz", { kind: "timestamptz", optional: false }],
  ["updated_at", "timestamp(6)", { kind: "timestamp", optional: false, fractionDigits: 6 }],
  ["external_id", "uuid", { kind: "uuid", optional: false }],
  ["tags", "text[]", { kind: "array", optional: true, items: { kind: "string", optional: true } }],
  ["attributes", "jsonb", { kind: "json", optional: true }],
  ["avatar", "bytea", { kind: "bytes", optional: true }],
  ["notes", "text", { kind: "string", optional: true }],
];
const types = Object.fromEntries(columns.map(([n, , t]) => [n, t]));

/** Values as the decoder produces them (int64 as bigint, decimals and times as text, bytes as Buffer). */
function row(id: number, version: number): Row {
  const h = (id * 2654435761 + version) >>> 0;
  const day = (h % 20_000) + 1;
  return {
    id: BigInt(id),
    tenant_id: h % 1000,
    email: `user${id}@example.com`,
    full_name: h % 10 === 0 ? null : `Person ${id} Ünïcödé`,
    status: ["active", "suspended", "pending"][h % 3]!,
    amount: `${Math.floor(h / 7) % 1_000_000}.${String(h % 100).padStart(2, "0")}`,
    balance: h % 5 === 0 ? null : `${h}.${h % 1000}`,
    score: (h % 10_000) / 7,
    active: h % 2 === 0,
    birth_date: new Date(Date.UTC(1950, 0, day)).toISOString().slice(0, 10),
    created_at: new Date(1_600_000_000_000 + h * 1000).toISOString().replace(/\.\d+Z$/, `.${id % 1e6}Z`),
    updated_at: `2024-0${(h % 9) + 1}-1${h % 10}T12:34:56.${String(h % 1e6).padStart(6, "0")}`,
    external_id: `${h.toString(16).padStart(8, "0")}-0000-4000-8000-${String(id).padStart(12, "0")}`,
    tags: h % 4 === 0 ? null : ["alpha", `tag ${h % 50}`, 'with "quotes", commas'],
    attributes: JSON.stringify({ plan: h % 3 ? "pro" : "free", seats: h % 40, flags: [h % 2 === 0, null] }),
    avatar: h % 3 === 0 ? null : Buffer.from(`${h}`.repeat(8)),
    notes: h % 3 === 0 ? "" : `line one\tcolumn\nline two \\ version ${version}`,
  };
}

async function timed(work: () => Promise<void>): Promise<number> {
  const start = process.hrtime.bigint();
  await work();
  return Number(process.hrtime.bigint() - start) / 1e9;
}

/** Ids 1..count at `version`, in batches of `size`, with the table's columns only (built before timing). */
function batches(shape: TableShape, count: number, size: number, version: number): Row[][] {
  const out: Row[][] = [];
  for (let from = 1; from <= count; from += size) {
    out.push(
      Array.from({ length: Math.min(size, count - from + 1) }, (_, i) => {
        const full = row(from + i, version);
        return Object.fromEntries([...shape.columns.keys()].map((c) => [c, full[c] ?? null]));
      }),
    );
  }
  return out;
}

/** One transaction per batch, as the materializer applies them. */
async function write(target: PostgresTarget, shape: TableShape, upserts: Row[][]): Promise<void> {
  for (const batch of upserts)
    await target.transaction((tx) =>
      tx.write({ table: shape, types, upserts: batch, deletes: [], truncate: false }),
    );
}

const db = new pg.Client({ connectionString: url });
await db.connect();
type Path = "unnest" | "copy";
const targets: Record<Path, PostgresTarget> = {
  unnest: new PostgresTarget(url, undefined, { copyThreshold: Number.MAX_SAFE_INTEGER }),
  copy: new PostgresTarget(url, undefined, { copyThreshold: 1 }),
};
const tables: string[] = [];

/** Twin tables of `variant`'s columns, and their shapes as each target sees them. */
async function twins(variant: string, cols: typeof columns): Promise<Record<Path, TableShape>> {
  const defs = cols.map(([n, t]) => `${n} ${t}${n === "id" ? " PRIMARY KEY" : ""}`).join(", ");
  const out = {} as Record<Path, TableShape>;
  for (const p of ["unnest", "copy"] as const) {
    const name: QualifiedName = { schema: "public", name: `bench_copy_${variant}_${p}_${suffix}` };
    await db.query(`CREATE TABLE ${name.name} (${defs})`);
    tables.push(name.name);
    out[p] = (await targets[p].describe(name))!;
  }
  return out;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const rate = (count: number, times: number[]) => Math.round(count / median(times));
const ratio = (copy: number, unnest: number) => Number((copy / unnest).toFixed(2));

/** N rows into empty twins (insert), then over the same keys (update), rounds alternating the order. */
async function measure(variant: string, cols: typeof columns) {
  const shapes = await twins(variant, cols);
  const seconds: Record<"insert" | "update", Record<Path, number[]>> = {
    insert: { unnest: [], copy: [] },
    update: { unnest: [], copy: [] },
  };
  // Warm-up: connections, staging tables, plans.
  for (const p of ["unnest", "copy"] as const)
    await write(targets[p], shapes[p], batches(shapes[p], batchRows, batchRows, 0));
  for (let round = 0; round < rounds; round++) {
    const order: Path[] = round % 2 === 0 ? ["unnest", "copy"] : ["copy", "unnest"];
    for (const p of order) await db.query(`TRUNCATE ${shapes[p].name.name}`);
    await db.query("CHECKPOINT");
    const inserts = batches(shapes.copy, rows, batchRows, 1);
    for (const p of order) seconds.insert[p].push(await timed(() => write(targets[p], shapes[p], inserts)));
    const updates = batches(shapes.copy, rows, batchRows, round + 2);
    for (const p of order) seconds.update[p].push(await timed(() => write(targets[p], shapes[p], updates)));
    console.error(`${variant}: round ${round + 1}/${rounds}`);
  }
  const figures = (phase: "insert" | "update") => {
    const unnest = rate(rows, seconds[phase].unnest);
    const copy = rate(rows, seconds[phase].copy);
    return { unnestRowsPerSecond: unnest, copyRowsPerSecond: copy, ratio: ratio(copy, unnest) };
  };
  return { variant, columns: cols.length, insert: figures("insert"), update: figures("update"), shapes };
}

try {
  // The main figure: no array column, so unnest takes its fast form. The second table adds a
  // text[] column, which sends the unnest path to row-by-row VALUES.
  const plain = await measure(
    "wide",
    columns.filter(([n]) => n !== "tags"),
  );
  const withArray = await measure("wide_array", columns);

  // Where COPY starts to pay: the same rows in batches of each size (updates, the common case).
  const sweep = [];
  for (const size of sweepSizes) {
    const count = Math.max(size * 3, Math.min(rows, 30_000));
    const t: Record<Path, number[]> = { unnest: [], copy: [] };
    for (let round = 0; round < rounds; round++) {
      const order: Path[] = round % 2 === 0 ? ["unnest", "copy"] : ["copy", "unnest"];
      const upserts = batches(plain.shapes.copy, count, size, 100 + round);
      for (const p of order) t[p].push(await timed(() => write(targets[p], plain.shapes[p], upserts)));
    }
    const unnest = rate(count, t.unnest);
    const copy = rate(count, t.copy);
    sweep.push({ batchRows: size, rows: count, unnest, copy, ratio: ratio(copy, unnest) });
  }

  const { rows: version } = await db.query<{ server_version: string }>("SHOW server_version");
  const results = [plain, withArray].map(({ shapes: _, ...r }) => r);
  const report = {
    benchmark: "copy",
    date: new Date().toISOString(),
    node: process.version,
    postgres: version[0]!.server_version,
    rows,
    batchRows,
    rounds,
    results,
    sweep,
    defaultCopyThreshold,
  };
  console.log(
    `table        phase   unnest rows/s   COPY rows/s   ratio  (${rows} rows, batches of ${batchRows})`,
  );
  for (const r of results)
    for (const phase of ["insert", "update"] as const)
      console.log(
        `${`${r.variant} (${r.columns})`.padEnd(16)} ${phase.padEnd(6)} ${String(r[phase].unnestRowsPerSecond).padStart(10)} ${String(r[phase].copyRowsPerSecond).padStart(13)}   ${r[phase].ratio}`,
      );
  console.log("\nbatch rows   unnest rows/s   COPY rows/s   ratio  (wide, updates)");
  for (const s of sweep)
    console.log(
      `${String(s.batchRows).padStart(10)} ${String(s.unnest).padStart(15)} ${String(s.copy).padStart(13)}   ${s.ratio}`,
    );
  writeResults("copy", report);
} finally {
  await targets.unnest.close();
  await targets.copy.close();
  for (const t of tables) await db.query(`DROP TABLE IF EXISTS ${t}`);
  await db.end();
}
