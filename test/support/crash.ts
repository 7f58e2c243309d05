/**
 * The crash test, shared by both engines: a writer produces ≥ 100k changes in `prod` while the
 * real `shadowdb run` (a child process) is killed with SIGKILL at random moments and restarted;
 * a watcher polls the shadow table all along and fails the test if any row's version ever goes
 * backwards (a replayed old batch) or a row it saw disappears. At the end the shadow equals the
 * source, there are no dead letters, and the stored position is the topic's high-water offset.
 * The config sets kafka.sessionTimeoutMs to the broker's minimum (6 s), so that a killed
 * instance's partitions come free soon after each crash.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Kafka } from "kafkajs";
import { kafkaClient, waitForTopic } from "./kafka.ts";
import { eventually } from "./materialize.ts";
import { uninstallOverlays } from "./overlay.ts";

const root = fileURLToPath(new URL("../..", import.meta.url));

/** The few things the test does with a database, whatever the driver. */
export interface Sql {
  query(text: string, params?: unknown[]): Promise<{ rows: Record<string, unknown>[]; affected: number }>;
  end(): Promise<void>;
}

/** What differs between the engines: connections, the SQL dialect and the names. */
export interface CrashEngine {
  name: string;
  dialect: "postgres" | "mysql";
  brokers: string;
  shadowUrl: string;
  /** The Debezium topic of `table`. */
  topic(table: string): string;
  /** The target table as the config names it ("public.t" / "shadow.t"). */
  target(table: string): string;
  /** The dead-letter table as the config names it. */
  deadLetterTable: string;
  connectProd(): Promise<Sql>;
  connectShadow(): Promise<Sql>;
  /** Placeholder number i (1-based). */
  param(i: number): string;
  /** `version + 1` and a fresh random payload tagged with `tag`, for ids from..to. */
  updateSql(table: string, tag: string, from: number, to: number): string;
  /** id, version and payload as text, ordered by id. */
  selectSql(table: string): string;
}

export interface CrashOptions {
  /** Rows inserted before the materializer first starts. */
  initialRows: number;
  /** Rows inserted half-way through the updates. */
  laterRows: number;
  /** UPDATE statements, each of `rowsPerStatement` rows (`version = version + 1`). */
  updateStatements: number;
  rowsPerStatement: number;
  /** Time over which the writer spreads its updates, so that part arrives while shadowdb is dead. */
  writeSpreadMs: number;
  crashes: number;
  /**
   * Each life runs this long (uniformly random) after it reports "materializer running"; counted
   * from then rather than from the spawn, since start-up takes 1–5 s and a kill before the
   * consumer has its partitions tests nothing.
   */
  minLifeMs: number;
  maxLifeMs: number;
  catchUpTimeoutMs: number;
  /** How long Debezium may take to publish the last change once the writer is done. */
  publishTimeoutMs: number;
}

export const defaultCrashOptions: CrashOptions = {
  initialRows: 4000,
  laterRows: 1000,
  updateStatements: 200,
  rowsPerStatement: 500,
  writeSpreadMs: 20_000,
  crashes: 5,
  minLifeMs: 1000,
  maxLifeMs: 4000,
  catchUpTimeoutMs: 120_000,
  publishTimeoutMs: 90_000,
};

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const ddl = (table: string) =>
  `CREATE TABLE ${table} (id int PRIMARY KEY, version bigint NOT NULL, payload text)`;

/** One `shadowdb run` child process, its log lines and its exit. */
class Life {
  readonly lines: string[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  readonly ready: Promise<void>;
  readonly startedAt = Date.now();
  readyAt: number | undefined;
  exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  private readonly child: ChildProcess;

  constructor(configFile: string) {
    this.child = spawn(
      process.execPath,
      ["--import", "tsx", "src/cli/main.ts", "run", "--config", configFile],
      {
        cwd: root,
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    let markReady: () => void = () => undefined;
    this.ready = new Promise<void>((resolve) => {
      markReady = resolve;
    });
    const collect = (stream: NodeJS.ReadableStream | null) => {
      let partial = "";
      stream?.setEncoding("utf8");
      stream?.on("data", (chunk: string) => {
        const parts = (partial + chunk).split("\n");
        partial = parts.pop() ?? "";
        for (const line of parts) {
          this.lines.push(line);
          if (this.lines.length > 400) this.lines.splice(0, this.lines.length - 400);
          if (line.includes('"materializer running"') && this.readyAt === undefined) {
            this.readyAt = Date.now();
            markReady();
          }
        }
      });
    };
    collect(this.child.stdout);
    collect(this.child.stderr);
    this.exited = new Promise((resolve) => {
      this.child.once("exit", (code, signal) => {
        this.exit = { code, signal };
        resolve(this.exit);
      });
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get alive(): boolean {
    return this.exit === undefined;
  }

  kill(signal: NodeJS.Signals): void {
    if (this.alive) this.child.kill(signal);
  }

  tail(n = 40): string {
    return this.lines.slice(-n).join("\n");
  }
}

/** Resolves with `promise`, or fails naming `what` after `ms`. */
async function within<T>(what: string, ms: number, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} did not happen within ${ms / 1000}s`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

interface Violation {
  id: string;
  from: number;
  to: number | "gone";
  atMs: number;
}

/** Polls the shadow table every ~100 ms, remembering each row's highest version. */
class Watcher {
  readonly highest = new Map<string, number>();
  readonly violations: Violation[] = [];
  polls = 0;
  errors = 0;
  private stopping = false;
  private readonly loop: Promise<void>;

  constructor(
    private readonly db: Sql,
    private readonly sql: string,
    private readonly startedAt: number,
  ) {
    this.loop = this.run();
  }

  private async run(): Promise<void> {
    while (!this.stopping) {
      try {
        await this.poll();
      } catch {
        // The shadow table may not exist for a moment at start; a failed poll proves nothing.
        this.errors++;
      }
      await sleep(100);
    }
  }

  async poll(): Promise<void> {
    const { rows } = await this.db.query(this.sql);
    const atMs = Date.now() - this.startedAt;
    const present = new Set<string>();
    for (const row of rows) {
      const id = String(row.id);
      const version = Number(row.version);
      present.add(id);
      const before = this.highest.get(id);
      if (before !== undefined && version < before)
        this.violations.push({ id, from: before, to: version, atMs });
      if (before === undefined || version > before) this.highest.set(id, version);
    }
    // The source never deletes: a row once seen must stay.
    if (present.size < this.highest.size) {
      for (const [id, version] of this.highest) {
        if (!present.has(id)) this.violations.push({ id, from: version, to: "gone", atMs });
      }
    }
    this.polls++;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await this.loop;
  }
}

/** Everything the test created, for `cleanUp`. */
export interface CrashRun {
  table: string;
  groupId: string;
  configFile: string;
  /** Set: the run applies in source-transaction mode, reading this metadata topic. */
  transactionTopic?: string;
  prod?: Sql;
  shadow?: Sql;
  watcherDb?: Sql;
  watcher?: Watcher;
  lives: Life[];
  writer?: Promise<unknown>;
  stopWriter?: () => void;
}

export function newCrashRun(transactionTopic?: string): CrashRun {
  const suffix = randomBytes(4).toString("hex");
  return {
    transactionTopic,
    table: `crash_${suffix}`,
    groupId: `crash-${suffix}`,
    configFile: join(tmpdir(), `shadowdb-crash-${suffix}.yaml`),
    lives: [],
  };
}

interface Writer {
  done: Promise<void>;
  finished: () => boolean;
  changes: () => number;
}

/**
 * Inserts `laterRows` half-way, and runs `updateStatements` UPDATEs of `rowsPerStatement`
 * consecutive rows each, in transactions of one or two statements (ranges may overlap, so a row
 * can change twice in one transaction), spread evenly over `writeSpreadMs`.
 */
function startWriter(
  engine: CrashEngine,
  run: CrashRun,
  o: CrashOptions,
  counts: { changes: number },
): Writer {
  const db = run.prod!;
  let stopped = false;
  run.stopWriter = () => {
    stopped = true;
  };
  let finished = false;
  const done = (async () => {
    const start = Date.now();
    const interval = o.writeSpreadMs / o.updateStatements;
    let rows = o.initialRows;
    let k = 0;
    while (k < o.updateStatements && !stopped) {
      if (rows === o.initialRows && k >= o.updateStatements / 2 && o.laterRows > 0) {
        for (let from = rows + 1; from <= o.initialRows + o.laterRows; from += o.rowsPerStatement) {
          const to = Math.min(from + o.rowsPerStatement - 1, o.initialRows + o.laterRows);
          counts.changes += (await db.query(insertSql(run.table, from, to))).affected;
        }
        rows = o.initialRows + o.laterRows;
      }
      const statements = k + 1 < o.updateStatements && Math.random() < 0.5 ? 2 : 1;
      await db.query("START TRANSACTION");
      for (let s = 0; s < statements; s++, k++) {
        const from = 1 + Math.floor(Math.random() * (rows - o.rowsPerStatement + 1));
        const result = await db.query(
          engine.updateSql(run.table, `u${k}`, from, from + o.rowsPerStatement - 1),
        );
        counts.changes += result.affected;
      }
      await db.query("COMMIT");
      const due = start + k * interval - Date.now();
      if (due > 0) await sleep(due);
    }
    finished = true;
  })();
  // Observed by the test through `finished`/`done`; never an unhandled rejection.
  done.catch(() => undefined);
  return { done, finished: () => finished, changes: () => counts.changes };
}

function insertSql(table: string, from: number, to: number): string {
  const values: string[] = [];
  for (let id = from; id <= to; id++) values.push(`(${id}, 1, 'i${id}')`);
  return `INSERT INTO ${table} (id, version, payload) VALUES ${values.join(", ")}`;
}

function configYaml(engine: CrashEngine, run: CrashRun): string {
  return `# shadowdb crash test (${engine.name}); written by test/support/crash.ts, removed afterwards.
kafka: { brokers: "${engine.brokers}", groupId: "${run.groupId}", sessionTimeoutMs: 6000 }
target: { dialect: ${engine.dialect}, url: "${engine.shadowUrl}" }
tables: [ { topic: "${engine.topic(run.table)}", table: "${engine.target(run.table)}" } ]
deadLetter: { table: "${engine.deadLetterTable}" }
http: { port: 0 }
log: { level: info }
${run.transactionTopic ? `apply: { transactional: source, transactionTopic: "${run.transactionTopic}" }\n` : ""}`;
}

/** true, or where the tables first differ. */
function difference(expected: Record<string, unknown>[], actual: Record<string, unknown>[]): true | string {
  const text = (r: Record<string, unknown> | undefined) =>
    r === undefined ? "nothing" : `(${String(r.id)}, ${String(r.version)}, ${String(r.payload)})`;
  for (let i = 0; i < Math.max(expected.length, actual.length); i++) {
    const e = text(expected[i]);
    const a = text(actual[i]);
    if (e !== a) return `${actual.length} rows of ${expected.length}; row #${i + 1}: ${a} instead of ${e}`;
  }
  return true;
}

async function storedOffset(engine: CrashEngine, run: CrashRun): Promise<string | undefined> {
  const { rows } = await run.shadow!.query(
    `SELECT next_offset FROM shadowdb_positions WHERE group_id = ${engine.param(1)} AND topic = ${engine.param(2)}`,
    [run.groupId, engine.topic(run.table)],
  );
  return rows[0] === undefined ? undefined : String(rows[0].next_offset);
}

export interface CrashFigures {
  changes: number;
  crashes: number;
  midStreamCrashes: number;
  elapsedMs: number;
  polls: number;
}

/** The whole test; `run` records what to clean up even when it fails half-way. */
export async function crashTest(
  engine: CrashEngine,
  run: CrashRun,
  o = defaultCrashOptions,
): Promise<CrashFigures> {
  const started = Date.now();
  const since = () => `${((Date.now() - started) / 1000).toFixed(1)}s`;
  const say = (message: string) => console.log(`[crash ${engine.name} ${since()}] ${message}`);
  const kafka = kafkaClient(engine.brokers);
  const topic = engine.topic(run.table);

  run.prod = await engine.connectProd();
  run.shadow = await engine.connectShadow();
  run.watcherDb = await engine.connectShadow();
  // The recommended path: the shadow runs the application's migrations, so both tables are alike.
  await run.prod.query(ddl(run.table));
  await run.shadow.query(ddl(run.table));
  writeFileSync(run.configFile, configYaml(engine, run));

  const counts = { changes: 0 };
  for (let from = 1; from <= o.initialRows; from += o.rowsPerStatement) {
    const to = Math.min(from + o.rowsPerStatement - 1, o.initialRows);
    counts.changes += (await run.prod.query(insertSql(run.table, from, to))).affected;
  }
  // The consumer subscribes to the exact topic, which Debezium creates with the first event.
  await waitForTopic(kafka, topic).catch((error: unknown) => {
    throw new Error(
      `${(error as Error).message}: Debezium is behind (the stack is shared: a concurrent load, ` +
        "e.g. a benchmark, delays every other table's events); not a shadowdb failure",
      { cause: error },
    );
  });

  run.watcher = new Watcher(run.watcherDb, `SELECT id, version FROM ${run.table}`, started);
  const writer = startWriter(engine, run, o, counts);
  run.writer = writer.done;

  let midStream = 0;
  for (let n = 0; n <= o.crashes; n++) {
    const life = new Life(run.configFile);
    run.lives.push(life);
    const ready = await within(
      `life ${n + 1} (pid ${life.pid}): "materializer running"`,
      60_000,
      Promise.race([life.ready.then(() => true), life.exited.then(() => false)]),
    );
    assert.ok(ready, `shadowdb exited before running (${JSON.stringify(life.exit)}):\n${life.tail()}`);
    const startup = (life.readyAt! - life.startedAt) / 1000;
    if (n === o.crashes) {
      say(`life ${n + 1} (pid ${life.pid}) running after ${startup.toFixed(1)}s; the last one`);
      break;
    }
    const lifeMs = o.minLifeMs + Math.random() * (o.maxLifeMs - o.minLifeMs);
    const before = await storedOffset(engine, run);
    const early = await Promise.race([sleep(lifeMs).then(() => false), life.exited.then(() => true)]);
    assert.ok(!early, `shadowdb exited by itself (${JSON.stringify(life.exit)}):\n${life.tail()}`);
    life.kill("SIGKILL");
    await within(`life ${n + 1} (pid ${life.pid}) dying of SIGKILL`, 10_000, life.exited);
    const after = await storedOffset(engine, run);
    const [high] = await topicOffsets(kafka, topic);
    const pending = BigInt(after ?? "0") < BigInt(high ?? "0") || !writer.finished();
    if (pending) midStream++;
    say(
      `life ${n + 1} (pid ${life.pid}): running after ${startup.toFixed(1)}s, killed -9 after ` +
        `${(lifeMs / 1000).toFixed(1)}s more; position ${before ?? "none"} → ${after ?? "none"} ` +
        `(topic end ${high}, ${writer.changes()} changes written so far${pending ? "" : ", nothing pending"})`,
    );
  }
  const last = run.lives.at(-1)!;

  await within("the writer finishing", 60_000, writer.done);
  say(`writer done: ${writer.changes()} changes`);
  const expected = (await run.prod.query(engine.selectSql(run.table))).rows;
  assert.equal(expected.length, o.initialRows + o.laterRows);
  // Upstream first, so that a slow CDC stack (it is shared) is not taken for a slow shadowdb.
  await eventually(
    "Debezium publishing every change",
    async () => {
      const [high] = await topicOffsets(kafka, topic);
      return BigInt(high ?? "0") >= BigInt(writer.changes()) || `${high} of ${writer.changes()} on ${topic}`;
    },
    o.publishTimeoutMs,
  );
  say(`Debezium has published every change (${topic})`);
  await eventually(
    "shadow equals prod",
    async () => {
      assert.ok(last.alive, `the last shadowdb exited (${JSON.stringify(last.exit)}):\n${last.tail()}`);
      const same = difference(expected, (await run.shadow!.query(engine.selectSql(run.table))).rows);
      return same === true || `${same}; stored position ${await storedOffset(engine, run)}`;
    },
    o.catchUpTimeoutMs,
  ).catch((error: unknown) => {
    throw new Error(`${(error as Error).message}\nthe last shadowdb's log:\n${last.tail()}`, {
      cause: error,
    });
  });
  say("shadow equals prod");

  const terminated = Date.now();
  last.kill("SIGTERM");
  const exit = await within(`the last shadowdb (pid ${last.pid}) stopping on SIGTERM`, 30_000, last.exited);
  assert.deepEqual(exit, { code: 0, signal: null }, `shadowdb did not stop cleanly:\n${last.tail()}`);
  say(`the last shadowdb stopped on SIGTERM in ${((Date.now() - terminated) / 1000).toFixed(1)}s`);

  await run.watcher.stop();
  await run.watcher.poll();
  const { violations, highest } = run.watcher;
  assert.deepEqual(
    violations.slice(0, 10),
    [],
    `${violations.length} time(s) a shadow row went backwards or vanished (first ones shown; ` +
      `${writer.changes()} changes written, topic end ${(await topicOffsets(kafka, topic)).join(",")})`,
  );
  for (const row of expected) {
    assert.equal(highest.get(String(row.id)), Number(row.version), `highest version seen for id ${row.id}`);
  }

  const letters = await run.shadow.query(
    `SELECT count(*) AS n FROM ${engine.deadLetterTable} WHERE group_id = ${engine.param(1)}`,
    [run.groupId],
  );
  assert.equal(Number(letters.rows[0]!.n), 0, "dead letters");

  const offsets = await topicOffsets(kafka, topic);
  assert.equal(offsets.length, 1, `${topic} has one partition`);
  const stored = await run.shadow.query(
    `SELECT ${quotePartition(engine)} AS p, next_offset FROM shadowdb_positions WHERE group_id = ${engine.param(1)} AND topic = ${engine.param(2)}`,
    [run.groupId, topic],
  );
  assert.deepEqual(
    stored.rows.map((r) => [Number(r.p), String(r.next_offset)]),
    [[0, offsets[0]!]],
    "the stored position is the topic's high-water offset",
  );
  const committed = await committedOffsets(kafka, run.groupId, topic);
  assert.deepEqual(committed, [offsets[0]!], "Kafka's committed group offset follows the stored position");

  const figures: CrashFigures = {
    changes: writer.changes(),
    crashes: o.crashes,
    midStreamCrashes: midStream,
    elapsedMs: Date.now() - started,
    polls: run.watcher.polls,
  };
  say(
    `PASS: ${figures.changes} changes (topic end ${offsets[0]}), ${figures.crashes} kill -9 ` +
      `(${figures.midStreamCrashes} with changes pending), ${run.lives.length} starts, ` +
      `${figures.polls} watcher polls (${run.watcher.errors} failed), no regression, ` +
      `${(figures.elapsedMs / 1000).toFixed(1)}s`,
  );
  return figures;
}

const quotePartition = (engine: CrashEngine) =>
  engine.dialect === "postgres" ? '"partition"' : "`partition`";

async function topicOffsets(kafka: Kafka, topic: string): Promise<string[]> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchTopicOffsets(topic);
    return offsets.sort((a, b) => a.partition - b.partition).map((p) => p.high);
  } finally {
    await admin.disconnect();
  }
}

async function committedOffsets(kafka: Kafka, groupId: string, topic: string): Promise<string[]> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const [entry] = await admin.fetchOffsets({ groupId, topics: [topic] });
    return (entry?.partitions ?? []).sort((a, b) => a.partition - b.partition).map((p) => p.offset);
  } finally {
    await admin.disconnect();
  }
}

/** Stops and removes everything `crashTest` started or created; never throws. */
export async function cleanUp(engine: CrashEngine, run: CrashRun): Promise<void> {
  const quietly = async (work: () => Promise<unknown> | undefined) => {
    try {
      await work();
    } catch {
      // Best effort: clean-up must not hide the test's own failure.
    }
  };
  for (const life of run.lives) {
    if (life.alive) {
      life.kill("SIGKILL");
      await quietly(() => within("a leftover shadowdb dying", 10_000, life.exited));
    }
  }
  run.stopWriter?.();
  await quietly(() => run.writer);
  await quietly(() => run.watcher?.stop());
  await quietly(() => run.watcherDb?.end());
  const [schema] = engine.target(run.table).split(".") as [string];
  await quietly(() => uninstallOverlays(engine.dialect, engine.shadowUrl, [{ schema, name: run.table }]));
  await quietly(() => run.prod?.query(`DROP TABLE IF EXISTS ${run.table}`));
  await quietly(() => run.shadow?.query(`DROP TABLE IF EXISTS ${run.table}`));
  await quietly(() =>
    run.shadow?.query(`DELETE FROM shadowdb_positions WHERE group_id = ${engine.param(1)}`, [run.groupId]),
  );
  await quietly(() =>
    run.shadow?.query(`DELETE FROM ${engine.deadLetterTable} WHERE group_id = ${engine.param(1)}`, [
      run.groupId,
    ]),
  );
  await quietly(() => run.prod?.end());
  await quietly(() => run.shadow?.end());
  await quietly(async () => {
    const kafka = kafkaClient(engine.brokers);
    // A killed instance stays a member until its session times out; a group with members cannot go.
    await sleep(7000);
    const admin = kafka.admin();
    await admin.connect();
    try {
      await admin.deleteGroups([run.groupId]);
    } finally {
      await admin.disconnect();
    }
  });
  rmSync(run.configFile, { force: true });
}
