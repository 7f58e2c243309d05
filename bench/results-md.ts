/**
 * bench/results-md: writes bench/RESULTS.md from bench/results/*.json: the machine, the versions
 * (Node.js, PostgreSQL and MariaDB as the stack's servers report them, Kafka and Debezium as
 * stack/pom.xml pins them), the date, one section per benchmark with its figures, and the goals
 * table read from summary.json (goal, measured, met?).
 * Usage: tsx bench/results-md.ts [output, default bench/RESULTS.md; <SHADOWDB_BENCH_RESULTS>/RESULTS.md
 * when that variable points the results elsewhere]
 */
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { repoRoot, stackEnv } from "../stack/layout.ts";
import { cpuName, type Engine, openDb, readSummary, resultsDir } from "./support.ts";

const here = path.dirname(fileURLToPath(import.meta.url));
const dir = resultsDir();
const output =
  process.argv[2] ??
  (process.env.SHADOWDB_BENCH_RESULTS ? path.join(dir, "RESULTS.md") : path.join(here, "RESULTS.md"));

// biome-ignore lint/suspicious/noExplicitAny: result files are read as written, each by its own benchmark
type Json = any;

const files = readdirSync(dir)
  .filter((f) => f.endsWith(".json") && f !== "summary.json")
  .sort();
const results: { file: string; data: Json }[] = files.map((file) => ({
  file,
  data: JSON.parse(readFileSync(path.join(dir, file), "utf8")),
}));
const summary = readSummary();

// ---------------------------------------------------------------------------------------------
// Formatting

const int = (n: unknown) => (typeof n === "number" ? Math.round(n).toLocaleString("en-US") : "–");
const dec = (n: unknown, digits = 2) => (typeof n === "number" ? n.toFixed(digits) : "–");
const ms = (n: unknown) => (typeof n === "number" ? `${n < 10 ? n.toFixed(1) : Math.round(n)}` : "–");
const table = (head: string[], rows: unknown[][]) =>
  [
    `| ${head.join(" | ")} |`,
    `| ${head.map(() => "---").join(" | ")} |`,
    ...rows.map((r) => `| ${r.map((c) => String(c ?? "–")).join(" | ")} |`),
  ].join("\n");
const engineName = (e: unknown) =>
  e === "mariadb" ? "MariaDB" : e === "postgres" ? "PostgreSQL" : String(e);
const day = (iso: unknown) => (typeof iso === "string" ? iso.slice(0, 16).replace("T", " ") : "–");
const engineOrder = (e: unknown) => (e === "postgres" ? 0 : e === "mariadb" ? 1 : 2);
/** A benchmark's result files, PostgreSQL first. */
const of = (benchmark: string) =>
  results
    .filter((r) => r.data?.benchmark === benchmark)
    .sort((a, b) => engineOrder(a.data.engine) - engineOrder(b.data.engine));
const sources = (rs: { file: string; data: Json }[]) =>
  `Files: ${rs.map((r) => `\`results/${r.file}\` (${day(r.data.date)} UTC)`).join(", ")}.`;

// ---------------------------------------------------------------------------------------------
// Sections, one per benchmark

const sections: string[] = [];
const section = (title: string, intro: string, rs: { file: string; data: Json }[], body: string[]) => {
  if (rs.length > 0) sections.push([`## ${title}`, "", intro, "", ...body, "", sources(rs)].join("\n"));
};

{
  const rs = of("apply");
  section(
    "Apply (`npm run bench:apply`)",
    "A stream already in Kafka (half inserts, half updates), timed from shadowdb's start until its stored position reaches the topic's end; one fresh table per variant.",
    rs,
    [
      table(
        ["engine", "changes", "variant", "changes/s", "seconds", "batches", "peak RSS MiB"],
        rs.flatMap(({ data }) =>
          (data.variants ?? []).map((v: Json) => [
            engineName(data.engine),
            int(data.changes),
            v.variant,
            int(v.changesPerSecond),
            dec(v.applySeconds, 1),
            int(v.batches),
            int(v.peakRssMiB),
          ]),
        ),
      ),
    ],
  );
}
{
  const rs = of("vs-sink");
  section(
    "shadowdb against the Debezium JDBC sink (`npm run bench:vs-sink`)",
    "The same backlog (50 % inserts, 40 % updates, 10 % deletes) applied by shadowdb, then by the JDBC sink connector at its best tuned batch size, alternating when there are several rounds (the ratio is of the total times, the rates are means); both checked against production.",
    rs,
    [
      table(
        [
          "engine",
          "shape",
          "changes",
          "shadowdb changes/s",
          "JDBC sink changes/s",
          "sink batch.size",
          "ratio",
          "ratio per round",
          "shadowdb peak RSS MiB",
        ],
        rs.map(({ data }) => [
          engineName(data.engine),
          data.shape,
          int(data.changes),
          int(data.shadowdb?.changesPerSecond),
          int(data.jdbcSink?.changesPerSecond),
          int(data.jdbcSink?.batchSize),
          `**${dec(data.ratio)}×**`,
          Array.isArray(data.rounds)
            ? data.rounds.map((r: { ratio: number }) => `${dec(r.ratio)}×`).join(", ")
            : "one round",
          int(data.shadowdb?.peakRssMiB),
        ]),
      ),
    ],
  );
}
{
  const rs = of("snapshot");
  section(
    "Snapshot (`npm run bench:snapshot`)",
    "The initial load of a pgbench_accounts-like table, two ways, against COPY (PostgreSQL) or LOAD DATA LOCAL INFILE (MariaDB) of the same rows into an empty twin table, the ceiling: `shadowdb seed` (production's snapshot; PostgreSQL COPY TO piped into COPY FROM, MariaDB a SELECT streamed into LOAD DATA LOCAL; positions stored), and a Debezium initial snapshot through Kafka applied by shadowdb (overlay off, default batch size; legs=all only). Each fraction is measured side by side with COPY in the same run.",
    rs,
    [
      table(
        [
          "engine",
          "rows",
          "seed rows/s",
          "seed fraction of COPY",
          "COPY rows/s",
          "Debezium snapshot rows/s",
          "shadowdb from Kafka rows/s",
          "from Kafka fraction of COPY",
          "peak RSS MiB (from Kafka)",
        ],
        rs.map(({ data }) => [
          engineName(data.engine),
          int(data.rows),
          data.seed ? int(data.seed.rowsPerSecond) : "—",
          data.seed ? `**${dec(data.seed.fractionOfCopy)}**` : "—",
          `${int(data.copy?.rowsPerSecond)} (${data.copy?.tool ?? "?"})`,
          data.debeziumSnapshot ? int(data.debeziumSnapshot.rowsPerSecond) : "not run",
          data.shadowdb ? int(data.shadowdb.rowsPerSecond) : "not run",
          data.shadowdb ? `**${dec(data.shadowdb.fractionOfCopy ?? data.fraction)}**` : "—",
          data.shadowdb ? int(data.shadowdb.peakRssMiB) : "—",
        ]),
      ),
    ],
  );
}
{
  const rs = of("latency");
  const rows = rs.flatMap(({ data }) =>
    (data.rates ?? []).map((r: Json) => {
      const head = r.lagMs?.[r.headline] ?? {};
      return [
        engineName(data.engine),
        int(r.rate),
        `${int(r.achievedRate)}${r.rateKept === false ? " (rate not kept)" : ""}`,
        `${data.seconds ?? "?"} s, ${data.clients ?? "?"} conn., overlay ${data.overlay === false ? "off" : "on"}`,
        r.headline === "sourceTsMs" ? "source.ts_ms" : "client stamp",
        ms(head.p50),
        `**${ms(head.p99)}**`,
        ms(head.max),
        ms(r.lagMs?.sourceTsMs?.p99),
        ms(r.lagMs?.clientStamp?.p99),
        ms(r.lagMs?.split?.debeziumToKafka?.p99),
        ms(r.lagMs?.split?.kafkaToShadow?.p99),
      ];
    }),
  );
  section(
    "Latency (`npm run bench:latency`)",
    "Source commit to committed in the shadow, at a steady rate of single-row autocommit transactions (half inserts of new rows, half updates of random rows) " +
      "after a warm-up, exact percentiles over every change of the measured window. Two measures: Debezium's source.ts_ms (the source " +
      "database's commit clock) to the shadow's commit (this process's clock), from shadowdb's own source-delay metric; and the client stamp, " +
      "the generator's clock just before the statement to the shadow's commit (one clock). Both ends ran on one machine. The headline is " +
      "source.ts_ms on PostgreSQL and the client stamp on MariaDB, whose binlog gives ts_ms in whole seconds (up to 1 s too early). The last " +
      "two columns split the client-stamped lag at the Kafka record's timestamp (when Connect's producer sent it): Debezium's leg, then " +
      "the broker and shadowdb's.",
    rs,
    [
      table(
        [
          "engine",
          "tx/s asked",
          "tx/s achieved",
          "run",
          "measure",
          "p50 ms",
          "p99 ms",
          "max ms",
          "source.ts_ms p99",
          "client stamp p99",
          "commit → Kafka p99",
          "Kafka → shadow p99",
        ],
        rows,
      ),
    ],
  );
}
{
  const rs = of("overlay");
  section(
    "Overlay cost to the shadow service (`npm run bench:overlay`)",
    "The same workload against a plain and an overlaid table in alternating rounds (median of the rounds); writes: 80 % updates, 10 % inserts, 10 % deletes of random keys; reads: primary-key selects.",
    rs,
    [
      table(
        [
          "engine",
          "tool",
          "clients",
          "write tx/s plain",
          "write tx/s overlay",
          "write ratio",
          "write overhead",
          "read tx/s plain",
          "read tx/s overlay",
          "read ratio",
        ],
        rs.map(({ data }) => [
          engineName(data.engine),
          data.tool,
          int(data.clients),
          int(data.write?.plainTps),
          int(data.write?.overlayTps),
          dec(data.write?.ratio),
          typeof data.write?.ratio === "number" ? `**${Math.round((1 - data.write.ratio) * 100)} %**` : "–",
          int(data.read?.plainTps),
          int(data.read?.overlayTps),
          dec(data.read?.ratio),
        ]),
      ),
    ],
  );
}
{
  const rs = of("copy");
  section(
    "PostgreSQL upsert paths: unnest against COPY (`npm run bench:copy`)",
    "A wide table written in batches through the target's two paths, first into an empty table (insert), then over the same keys (update); the sweep shows where COPY starts to pay.",
    rs,
    rs.flatMap(({ data }) => [
      table(
        ["table", "columns", "phase", "unnest rows/s", "COPY rows/s", "ratio"],
        (data.results ?? []).flatMap((r: Json) =>
          (["insert", "update"] as const).map((phase) => [
            r.variant,
            int(r.columns),
            phase,
            int(r[phase]?.unnestRowsPerSecond),
            int(r[phase]?.copyRowsPerSecond),
            dec(r[phase]?.ratio),
          ]),
        ),
      ),
      "",
      `Sweep over batch sizes (updates; COPY is taken from ${int(data.defaultCopyThreshold)} rows):`,
      "",
      table(
        ["batch rows", "unnest rows/s", "COPY rows/s", "ratio"],
        (data.sweep ?? []).map((s: Json) => [int(s.batchRows), int(s.unnest), int(s.copy), dec(s.ratio)]),
      ),
    ]),
  );
}
{
  const rs = of("decode");
  section(
    "Decoding (`npm run bench:decode`)",
    "Recorded Debezium messages decoded, next to bare JSON.parse of the same bytes (the ceiling).",
    rs,
    [
      table(
        ["mode", "messages", "avg bytes", "JSON.parse msg/s", "decode msg/s", "decode MB/s", "ratio"],
        rs.flatMap(({ data }) =>
          (data.results ?? []).map((r: Json) => [
            r.mode,
            int(r.messages),
            int(r.averageBytes),
            int(r.jsonParse?.messagesPerSecond),
            int(r.decode?.messagesPerSecond),
            dec(r.decode?.megabytesPerSecond, 1),
            dec(r.ratio),
          ]),
        ),
      ),
    ],
  );
}
{
  const known = new Set(["apply", "vs-sink", "snapshot", "latency", "overlay", "copy", "decode"]);
  const rs = results.filter((r) => !known.has(r.data?.benchmark));
  section(
    "Other results",
    "Result files this generator has no table for; their scalar figures:",
    rs,
    rs.map(({ file, data }) => {
      const scalars = Object.entries(data ?? {}).filter(
        ([, v]) => typeof v === "number" || typeof v === "string",
      );
      return `- \`${file}\`: ${scalars.map(([k, v]) => `${k} ${v}`).join(", ")}`;
    }),
  );
}

// ---------------------------------------------------------------------------------------------
// Goals, from summary.json

interface Goal {
  goal: string;
  key: string;
  /** How the figure reads in the table. */
  show: (n: number) => string;
  met: (n: number) => boolean;
}

const times = (n: number) => `${n.toFixed(2)}×`;
const percent = (n: number) => `${Math.round(n * 100)} %`;
const goals: Goal[] = [
  {
    goal: "apply ≥ 5× the JDBC sink (PostgreSQL)",
    key: "pg_apply_ratio_vs_jdbc_sink",
    show: times,
    met: (n) => n >= 5,
  },
  {
    goal: "apply ≥ 5× the JDBC sink (MariaDB)",
    key: "my_apply_ratio_vs_jdbc_sink",
    show: times,
    met: (n) => n >= 5,
  },
  {
    goal: "apply ≥ 5× the JDBC sink, wide rows (PostgreSQL)",
    key: "pg_apply_ratio_vs_jdbc_sink_wide",
    show: times,
    met: (n) => n >= 5,
  },
  {
    goal: "apply ≥ 5× the JDBC sink, wide rows (MariaDB)",
    key: "my_apply_ratio_vs_jdbc_sink_wide",
    show: times,
    met: (n) => n >= 5,
  },
  {
    goal: "initial load ≥ 50 % of COPY (PostgreSQL: shadowdb seed)",
    key: "snapshot_fraction_of_copy",
    show: percent,
    met: (n) => n >= 0.5,
  },
  {
    goal: "initial load ≥ 50 % of LOAD DATA (MariaDB: shadowdb seed)",
    key: "my_snapshot_fraction_of_copy",
    show: percent,
    met: (n) => n >= 0.5,
  },
  {
    goal: "p99 ≤ 500 ms at 1k tx/s (PostgreSQL)",
    key: "p99_lag_ms_at_1k",
    show: (n) => `${Math.round(n)} ms`,
    met: (n) => n <= 500,
  },
  {
    goal: "p99 ≤ 500 ms at 1k tx/s (MariaDB)",
    key: "my_p99_lag_ms_at_1k",
    show: (n) => `${Math.round(n)} ms`,
    met: (n) => n <= 500,
  },
  {
    goal: "overlay write overhead ≤ 25 % (PostgreSQL)",
    key: "overlay_write_overhead",
    show: percent,
    met: (n) => n <= 0.25,
  },
  {
    goal: "overlay write overhead ≤ 25 % (MariaDB)",
    key: "my_overlay_write_overhead",
    show: percent,
    met: (n) => n <= 0.25,
  },
  {
    goal: "peak RSS ≤ 300 MB (`shadowdb run` draining 1M changes)",
    key: "peak_rss_mb",
    // The figure is MiB; the goal is in MB (10^6 bytes): 300 MB is 286 MiB.
    show: (n) => `${Math.round(n)} MiB (${((n * 2 ** 20) / 1e6).toFixed(1)} MB)`,
    met: (n) => (n * 2 ** 20) / 1e6 <= 300,
  },
  {
    goal: "decode ≥ 0.5× bare JSON.parse",
    key: "decode_ratio_vs_json_parse",
    show: times,
    met: (n) => n >= 0.5,
  },
];
/** Every peak RSS a result file reports (the summary's peak_rss_mb is bench:apply's `shadowdb run` process). */
const peaks: string[] = results.flatMap(({ file, data }) => {
  const values: number[] = [
    // An A/B's "+alt" variants are another build's.
    ...(data?.variants ?? [])
      .filter((v: Json) => !String(v.variant).includes("+alt"))
      .map((v: Json) => v.peakRssMiB),
    ...(data?.rates ?? []).map((r: Json) => r.peakRssMiB),
    data?.shadowdb?.peakRssMiB,
  ].filter((n): n is number => typeof n === "number");
  return values.length > 0 ? [`${file.replace(/\.json$/, "")} ${Math.max(...values)}`] : [];
});
const goalRows = goals.map(({ goal, key, show, met }) => {
  const n = summary[key];
  return typeof n === "number"
    ? [goal, `\`${key}\``, show(n), met(n) ? "yes" : "**no**"]
    : [goal, `\`${key}\``, "not measured", "–"];
});

// ---------------------------------------------------------------------------------------------
// Machine and versions

async function serverVersion(engine: Engine): Promise<string> {
  const env = stackEnv();
  try {
    const db = await openDb(
      engine,
      engine === "postgres" ? env.SHADOWDB_PG_SHADOW_URL : env.SHADOWDB_MY_SHADOW_URL,
    );
    try {
      return (await db.one("SELECT version() AS v")).v ?? "unknown";
    } finally {
      await db.close();
    }
  } catch (error) {
    return `not reachable (${error instanceof Error ? error.message : error})`;
  }
}

function osName(): string {
  try {
    const release = readFileSync("/etc/os-release", "utf8");
    const pretty = /^PRETTY_NAME="?([^"\n]*)"?/m.exec(release)?.[1];
    if (pretty) return `${pretty} (${os.type()} ${os.release()})`;
  } catch {
    // Not Linux, or no os-release.
  }
  return `${os.type()} ${os.release()}`;
}

const pom = readFileSync(path.join(repoRoot, "stack", "pom.xml"), "utf8");
const pinned = (name: string) => new RegExp(`<${name}>([^<]+)</${name}>`).exec(pom)?.[1] ?? "unknown";
// Older result files do not say which machine they ran on.
const byCpu = new Map<string, string[]>();
for (const r of results) {
  const cpu = typeof r.data?.cpu === "string" ? r.data.cpu : "not recorded";
  byCpu.set(cpu, [...(byCpu.get(cpu) ?? []), r.file.replace(/\.json$/, "")]);
}
const dates = results
  .map((r) => r.data?.date)
  .filter((d): d is string => typeof d === "string")
  .sort();

const markdown = [
  "# Benchmark results",
  "",
  `Generated by \`npm run bench:results\` (bench/results-md.ts) from \`bench/results/*.json\`; do not edit by hand.`,
  "How each benchmark works and how to run it: the header comment of its script in `bench/` and the",
  "bench/README.md. Each figure comes from one run, with Kafka, Kafka Connect (Debezium),",
  "PostgreSQL and MariaDB on the same machine; runs on different machines of the pool (see CPU) are",
  "not comparable with each other, only the ratios measured within one run are.",
  "",
  "## Machine, versions, date",
  "",
  table(
    ["", ""],
    [
      ["CPU (this machine)", cpuName()],
      ...[...byCpu].map(([cpu, names]): [string, string] => [`CPU of ${names.join(", ")}`, cpu]),
      ["memory", `${(os.totalmem() / 2 ** 30).toFixed(1)} GiB`],
      ["OS", osName()],
      ["Node.js", process.version],
      ["PostgreSQL", await serverVersion("postgres")],
      ["MariaDB", await serverVersion("mariadb")],
      ["Apache Kafka (stack/pom.xml)", pinned("kafka.version")],
      ["Debezium (stack/pom.xml)", pinned("debezium.version")],
      [
        "runs",
        dates.length > 0 ? `${day(dates[0])} to ${day(dates[dates.length - 1])} UTC` : "no results yet",
      ],
      ["generated", `${day(new Date().toISOString())} UTC`],
    ],
  ),
  "",
  "## Goals",
  "",
  "From `bench/results/summary.json` (the flat file of headline figures scripts outside the code read).",
  "",
  table(["goal", "figure", "measured", "met?"], goalRows),
  "",
  ...(peaks.length > 0
    ? [
        `Peak RSS (MiB) per result file: ${peaks.join(", ")}.${of("latency").length > 0 ? " Latency's includes its load generator, which runs in the same process." : ""}`,
        "",
      ]
    : []),
  "All headline figures:",
  "",
  table(
    ["key", "value"],
    Object.entries(summary)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([k, v]) => [`\`${k}\``, v]),
  ),
  "",
  ...sections.flatMap((s) => [s, ""]),
].join("\n");

writeFileSync(output, markdown);
console.log(`wrote ${path.relative(process.cwd(), output) || output} from ${files.length} result files`);
process.exit(0);
