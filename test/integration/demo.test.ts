/**
 * `shadowdb demo` end to end, the way its printout tells a user to try it: the real command (a
 * child process) serves an embedded PostgreSQL fed by the recorded demo stream; this test is the
 * shadow service (a `pg` client on the printed URL) and runs the printout's statements, sees them
 * in GET /diff while production's recorded changes keep arriving, resets, and finds production's
 * rows again: the fixture's rows, as the source database held them after the recording.
 * Needs no stack: that is the point of the demo.
 */
import assert from "node:assert/strict";
import { type ChildProcessByStdio, spawn } from "node:child_process";
import type { Readable } from "node:stream";
import { test } from "node:test";
import pg from "pg";
import { readFixture } from "../support/fixtures.ts";

type SourceRow = Record<string, string | null>;

/** Short enough for the test to finish quickly, long enough to write before production's 2nd change. */
const paceMs = 800;

const recorded = readFixture("postgres/default/demo.json") as ReturnType<typeof readFixture> & {
  otherTables: { table: string; columns: Record<string, string>; sourceRows: SourceRow[] }[];
};
const customersColumns = Object.keys(recorded.columns!);
const ordersColumns = Object.keys(recorded.otherTables[0]!.columns);
const byId = (rows: SourceRow[]) => [...rows].sort((a, b) => Number(a.id) - Number(b.id));
// The source database's rows after the recording: production's final state.
const finalCustomers = byId(recorded.sourceRows!);
const finalOrders = byId(recorded.otherTables[0]!.sourceRows);

/** Resolves with everything printed so far once `pattern` appears; rejects when the child exits. */
function printed(child: ChildProcessByStdio<null, Readable, null>, pattern: RegExp, ms = 30_000) {
  return new Promise<string>((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`not printed in ${ms / 1000}s: ${pattern}\n${out}`)), ms);
    const done = (error?: Error) => {
      clearTimeout(timer);
      child.stdout.off("data", onData);
      child.off("exit", onExit);
      if (error) reject(error);
      else resolve(out);
    };
    const onData = (chunk: string) => {
      out += chunk;
      if (pattern.test(out)) done();
    };
    const onExit = (code: number | null) =>
      done(new Error(`the demo exited (${code}) before ${pattern}\n${out}`));
    child.stdout.on("data", onData);
    child.once("exit", onExit);
  });
}

async function within<T>(what: string, ms: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  while (Date.now() < deadline) {
    last = await probe().catch((error: unknown) => error);
    if (last !== undefined && !(last instanceof Error)) return last as T;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${what}: not within ${ms / 1000}s (last: ${last instanceof Error ? last.message : last})`);
}

test("demo: the printout's steps work against the embedded database", { timeout: 60_000 }, async () => {
  const child = spawn(
    process.execPath,
    [
      "--import",
      "tsx",
      "src/cli/main.ts",
      "demo",
      "--db-port",
      "0",
      "--http-port",
      "0",
      "--pace",
      `${paceMs}`,
    ],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  child.stdout.setEncoding("utf8");
  const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
  let shadow: pg.Client | undefined;
  try {
    const out = await printed(child, /Ctrl-C stops the demo/);
    const databaseUrl = /^shadowdb demo: database (\S+)$/m.exec(out)?.[1];
    const httpUrl = /^shadowdb demo: http (\S+)$/m.exec(out)?.[1];
    const token = /Authorization: Bearer ([^"\s]+)"/.exec(out)?.[1];
    assert.ok(databaseUrl && httpUrl && token, out);
    assert.match(out, new RegExp(`psql ${databaseUrl}\\n`), "the printout names the real database port");
    const writes = out
      .split("\n")
      .map((line) => line.trim())
      .filter((line) => /^(UPDATE|INSERT) /.test(line));
    assert.equal(writes.length, 2, out);
    const admin = { authorization: `Bearer ${token}` };
    const get = async (path: string, headers = {}) => {
      const response = await fetch(`${httpUrl}${path}`, { headers });
      return { status: response.status, body: (await response.json()) as Record<string, unknown> };
    };

    assert.equal((await get("/healthz")).status, 200);
    assert.equal((await get("/readyz")).status, 200, "the initial rows are in");

    shadow = new pg.Client({ connectionString: databaseUrl });
    await shadow.connect();
    // The fixture renders rows as text in UTC.
    await shadow.query("SET TimeZone = 'UTC'");
    const rows = async (table: string, columns: string[]) =>
      (
        await shadow!.query<SourceRow>(
          `SELECT ${columns.map((c) => `${c}::text AS ${c}`).join(", ")} FROM ${table}`,
        )
      ).rows;
    const customer3 = async () => (await rows("demo_customers", customersColumns)).find((r) => r.id === "3");
    const finalCustomer3 = finalCustomers.find((r) => r.id === "3")!;
    // Production's change to customer 3 has not arrived yet: the shadow's write comes first.
    const initialCustomer3 = (await customer3())!;
    assert.notDeepEqual(initialCustomer3, finalCustomer3);

    // Step 1 of the printout: the shadow service writes (psql's simple protocol, as typed).
    for (const sql of writes) await shadow.query(sql);
    const mine: SourceRow = { ...initialCustomer3, tier: "platinum" };
    assert.deepEqual(await customer3(), mine, "the printout's UPDATE sets customer 3's tier to platinum");

    assert.equal((await get("/diff")).status, 401, "admin endpoints need the token");
    assert.equal((await get("/diff", { authorization: "Bearer not-the-token-at-all" })).status, 403);

    const status = await within("production's recorded changes all arrive", 8 * paceMs + 15_000, async () => {
      const { body } = await get("/status");
      return (body.replay as { done: boolean }).done ? body : undefined;
    });
    const stats = status.stats as { toCopy: number; deadLetters: number };
    assert.equal(stats.deadLetters, 0);
    assert.ok(stats.toCopy >= 1, "production's change to the shadow's row went to the copy");

    // Rows the shadow did not touch are production's latest; the shadow's row keeps its value.
    const others = (list: SourceRow[], mineId: string) => byId(list.filter((r) => r.id !== mineId));
    assert.deepEqual(
      others(await rows("demo_customers", customersColumns), "3"),
      others(finalCustomers, "3"),
    );
    assert.deepEqual(await customer3(), mine);
    const orders = byId(await rows("demo_orders", ordersColumns));
    assert.deepEqual(others(orders, "1001"), finalOrders);
    assert.deepEqual(
      { ...orders.find((r) => r.id === "1001"), placed_at: "(now)" },
      { id: "1001", customer_id: "3", total: "99.90", status: "placed", placed_at: "(now)" },
    );

    // Step 2: the diff shows both writes against production's current version.
    const diff = await get("/diff", admin);
    assert.equal(diff.status, 200);
    const tables = (diff.body as { tables: Record<string, unknown>[] }).tables;
    assert.deepEqual(
      tables.map((t) => [t.table, t.owned]),
      [
        ["public.demo_customers", 1],
        ["public.demo_orders", 1],
      ],
    );
    const changed = Object.keys(mine)
      .filter((c) => mine[c] !== finalCustomer3[c])
      .map((column) => ({ column, production: finalCustomer3[column], shadow: mine[column] }));
    assert.deepEqual(tables[0]!.rows, [
      { kind: "updated", key: { id: "3" }, production: finalCustomer3, shadow: mine, changed },
    ]);
    assert.deepEqual(tables[1]!.rows, [
      { kind: "inserted", key: { id: "1001" }, shadow: orders.find((r) => r.id === "1001") },
    ]);
    const text = await fetch(`${httpUrl}/diff?format=text`, { headers: admin });
    assert.match(await text.text(), /public\.demo_customers\s+updated\s+id=3\s+tier\s+\S+\s+platinum/);

    // Step 3: reset gives production's rows back and empties the overlay.
    const reset = await fetch(`${httpUrl}/reset`, { method: "POST", headers: admin });
    assert.equal(reset.status, 200);
    assert.deepEqual(await reset.json(), {
      reset: [
        { table: "public.demo_customers", reset: 1 },
        { table: "public.demo_orders", reset: 1 },
      ],
    });
    assert.deepEqual(byId(await rows("demo_customers", customersColumns)), finalCustomers);
    assert.deepEqual(byId(await rows("demo_orders", ordersColumns)), finalOrders);
    const clean = (await get("/diff", admin)).body as { tables: { owned: number; rows: unknown[] }[] };
    assert.deepEqual(
      clean.tables.map((t) => [t.owned, t.rows]),
      [
        [0, []],
        [0, []],
      ],
    );

    await shadow.end();
    shadow = undefined;
    const stopping = Date.now();
    child.kill("SIGTERM");
    assert.equal(await exited, 0, "the demo exits 0 on SIGTERM");
    assert.ok(Date.now() - stopping < 5000, `stopped in ${Date.now() - stopping} ms`);
  } finally {
    await shadow?.end().catch(() => undefined);
    if (child.exitCode === null) child.kill("SIGKILL");
  }
});
