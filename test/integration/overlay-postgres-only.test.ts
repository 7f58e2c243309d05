/**
 * What only PostgreSQL's overlay has (catalog objects, types, error codes, engine-specific races); the
 * behaviour both engines share is test/support/overlay-suite.ts, run by overlay-postgres.test.ts.
 * The overlay on the real PostgreSQL, without Kafka: the Target is driven directly (as the
 * materializer would), and an ordinary connection plays the shadow service. The races are made
 * deterministic by holding a shadow transaction open, starting the apply write, waiting until
 * PostgreSQL reports the apply session blocked by that transaction, and only then committing.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import pg from "pg";
import type { Value } from "../../src/decode/values.ts";
import { isShadowdbError } from "../../src/errors.ts";
import { overlayNames } from "../../src/overlay/names.ts";
import type { OverlayNames, QualifiedName, WriteOutcome } from "../../src/target/dialect.ts";
import { PostgresTarget } from "../../src/target/postgres/target.ts";
import { stackEnv } from "../../stack/layout.ts";
import { type Changes, describeWrite } from "../support/overlay-bench.ts";

const url = process.env.SHADOWDB_PG_SHADOW_URL ?? stackEnv().SHADOWDB_PG_SHADOW_URL;
const suffix = randomBytes(4).toString("hex");
const viaUnnest = new PostgresTarget(url, undefined, { copyThreshold: Number.MAX_SAFE_INTEGER });
/** A second apply-side session, for reset while the first one holds a transaction open. */
const admin = new PostgresTarget(url);
const tables: QualifiedName[] = [];
/** Looks at the database from outside every transaction under test. */
let look: pg.Client;
/** The shadow service: an ordinary session, whose writes the triggers track. */
let shadow: pg.Client;

before(async () => {
  look = new pg.Client({ connectionString: url, application_name: "overlay-test-look" });
  shadow = new pg.Client({ connectionString: url, application_name: "overlay-test-shadow" });
  for (const c of [look, shadow]) {
    await c.connect();
    await c.query("SET TimeZone = 'UTC'");
  }
  await viaUnnest.prepare();
});

after(async () => {
  for (const t of tables) {
    await admin.uninstallOverlay(overlayNames(t)).catch(() => undefined);
    await look.query(`DROP TABLE IF EXISTS public."${t.name.replaceAll('"', '""')}"`);
  }
  for (const t of [viaUnnest, admin]) await t.close();
  for (const c of [look, shadow]) await c.end();
});

const baseColumns = "id int PRIMARY KEY, v text, n int";

/** A fresh table (dropped after the run) with its overlay installed. */
async function overlaid(base: string, columns = baseColumns): Promise<OverlayNames> {
  const table = { schema: "public", name: `ov_${base}_${suffix}` };
  await look.query(`CREATE TABLE public."${table.name}" (${columns})`);
  tables.push(table);
  const names = overlayNames(table);
  await admin.installOverlay(names);
  return names;
}

/** One apply transaction with one overlay-aware write, as the materializer runs it. */
async function apply(target: PostgresTarget, names: OverlayNames, changes: Changes): Promise<WriteOutcome> {
  const write = await describeWrite(target, names, changes);
  return target.transaction((tx) => tx.write(write));
}

/** Rows as "id=v/n" strings in key order. */
async function rowsOf(name: QualifiedName): Promise<string[]> {
  const { rows } = await look.query(`SELECT id, v, n FROM ${name.schema}."${name.name}" ORDER BY id`);
  return rows.map((r) => `${r.id}=${r.v ?? "null"}/${r.n ?? "null"}`);
}

/** Ownership rows as "id:how". */
async function ownedOf(names: OverlayNames): Promise<string[]> {
  const { rows } = await look.query(`SELECT id, how FROM public."${names.owned.name}" ORDER BY id`);
  return rows.map((r) => `${r.id}:${r.how}`);
}

/** Production rows, as in the table before the shadow writes (id, v, n). */
function prod(...rows: [number, string, number?][]): Record<string, Value>[] {
  return rows.map(([id, v, n]) => ({ id, v, n: n ?? null }));
}

/**
 * Resolves once PostgreSQL reports a session blocked by the backend `pid` (a row or transaction
 * lock); fails if `pending` settles first (the apply write did not wait at all).
 */
async function blockedBy(pid: number, pending: Promise<unknown>): Promise<void> {
  let settled = false;
  void pending.then(
    () => {
      settled = true;
    },
    () => {
      settled = true;
    },
  );
  for (let i = 0; i < 400; i++) {
    const { rows } = await look.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))",
      [pid],
    );
    if (rows[0]!.n > 0) return;
    if (settled) throw new Error("the apply write finished without waiting for the shadow's transaction");
    await sleep(10);
  }
  throw new Error(`nothing waited for backend ${pid}`);
}

describe("install and uninstall", () => {
  test("installing twice changes nothing the second time; the objects are all there", async () => {
    const names = await overlaid("inst");
    await look.query(`INSERT INTO public."${names.table.name}" VALUES (1, 'a', 1)`);
    const objects = async () => {
      const { rows } = await look.query(
        `SELECT (SELECT xmin::text FROM pg_proc WHERE proname = $1) AS fn,
                (SELECT string_agg(tgname || '/' || xmin::text, ',' ORDER BY tgname) FROM pg_trigger
                  WHERE tgrelid = $2::regclass AND NOT tgisinternal) AS triggers,
                to_regclass($3) IS NOT NULL AS owned, to_regclass($4) IS NOT NULL AS copy`,
        [
          names.trigger("fn"),
          `public."${names.table.name}"`,
          `public."${names.owned.name}"`,
          `public."${names.copy.name}"`,
        ],
      );
      return rows[0] as { fn: string; triggers: string; owned: boolean; copy: boolean };
    };
    const first = await objects();
    assert.ok(first.fn, "the trigger function exists");
    assert.equal(first.triggers.split(",").length, 4);
    for (const e of ["ins", "upd", "del", "trunc"] as const)
      assert.match(first.triggers, new RegExp(names.trigger(e)));
    assert.ok(first.owned && first.copy);
    await admin.installOverlay(names);
    assert.deepEqual(await objects(), first, "the second install rewrote nothing");
    assert.ok((await admin.listOverlays()).some((t) => t.name === names.table.name && t.schema === "public"));
    assert.deepEqual(await rowsOf(names.table), ["1=a/1"]);
    // An ordinary session's insert is tracked; the apply session's is not.
    await apply(viaUnnest, names, { upserts: prod([2, "b"]) });
    assert.deepEqual(await ownedOf(names), ["1:i"]);
  });

  test("uninstall leaves the table and its rows; twice is fine; shadow writes are no longer tracked", async () => {
    const names = await overlaid("uninst");
    await apply(viaUnnest, names, { upserts: prod([1, "a"], [2, "b"]) });
    await shadow.query(`UPDATE public."${names.table.name}" SET v = 'shadow' WHERE id = 1`);
    await admin.uninstallOverlay(names);
    await admin.uninstallOverlay(names);
    assert.deepEqual(await rowsOf(names.table), ["1=shadow/null", "2=b/null"]);
    const { rows } = await look.query(
      `SELECT to_regclass($1) AS owned, to_regclass($2) AS copy,
              (SELECT count(*)::int FROM pg_trigger WHERE tgrelid = $3::regclass AND NOT tgisinternal) AS triggers,
              (SELECT count(*)::int FROM pg_proc WHERE proname = $4) AS fns,
              (SELECT count(*)::int FROM shadowdb_overlays WHERE table_name = $5) AS registered`,
      [
        `public."${names.owned.name}"`,
        `public."${names.copy.name}"`,
        `public."${names.table.name}"`,
        names.trigger("fn"),
        names.table.name,
      ],
    );
    assert.deepEqual(rows[0], { owned: null, copy: null, triggers: 0, fns: 0, registered: 0 });
    await shadow.query(`UPDATE public."${names.table.name}" SET v = 'again' WHERE id = 2`);
    // Without the overlay an overlay-aware write is refused, not silently applied.
    await assert.rejects(apply(viaUnnest, names, { upserts: prod([1, "p"]) }), (e) =>
      isShadowdbError(e, "OVERLAY_NOT_INSTALLED"),
    );
  });

  test("reinstalling after ADD COLUMN carries the column into the copy and the trigger", async () => {
    const names = await overlaid("addcol");
    await apply(viaUnnest, names, { upserts: prod([1, "a"], [2, "b"]) });
    await look.query(`ALTER TABLE public."${names.table.name}" ADD COLUMN extra numeric(6,2)`);
    await apply(viaUnnest, names, { upserts: [{ id: 1, extra: "1.50" }] });
    await admin.installOverlay(names);
    const { rows: columns } = await look.query(
      `SELECT column_name, data_type FROM information_schema.columns WHERE table_name = $1 ORDER BY ordinal_position`,
      [names.copy.name],
    );
    assert.deepEqual(
      columns.map((c) => `${c.column_name} ${c.data_type}`),
      ["id integer", "v text", "n integer", "extra numeric"],
    );
    // The regenerated function copies the new column aside on the first write.
    await shadow.query(`UPDATE public."${names.table.name}" SET extra = 9 WHERE id = 1`);
    const { rows } = await look.query(`SELECT id, v, extra::text FROM public."${names.copy.name}"`);
    assert.deepEqual(rows, [{ id: 1, v: "a", extra: "1.50" }]);
  });
});

test("a composite key and an array column (the row-by-row VALUES path) follow the same routes", async () => {
  const names = await overlaid(
    "composite",
    "tenant text, id int, tags int[], v text, PRIMARY KEY (tenant, id)",
  );
  const t = `public."${names.table.name}"`;
  const row = (tenant: string, id: number, v: string) => ({
    tenant,
    id,
    tags: [
      [id, 1],
      [2, 3],
    ],
    v,
  });
  await apply(viaUnnest, names, { upserts: [row("a", 1, "p"), row("a", 2, "p"), row("b", 1, "p")] });
  await shadow.query(`UPDATE ${t} SET v = 'shadow' WHERE tenant = 'a' AND id = 1`);
  await shadow.query(`INSERT INTO ${t} VALUES ('c', 1, '{}', 'shadow')`);
  const outcome = await apply(viaUnnest, names, {
    upserts: [row("a", 1, "q"), row("a", 2, "q"), row("c", 1, "q"), row("d", 1, "q")],
    deletes: [{ tenant: "b", id: 1 }],
  });
  assert.deepEqual(outcome, { toCopy: 2, lostInserts: 0, hidden: 0 });
  const cells = async (name: QualifiedName) =>
    (await look.query(`SELECT tenant, id, tags::text, v FROM public."${name.name}" ORDER BY 1, 2`)).rows.map(
      (r) => `${r.tenant}${r.id} ${r.tags} ${r.v}`,
    );
  assert.deepEqual(await cells(names.table), [
    "a1 {{1,1},{2,3}} shadow",
    "a2 {{2,1},{2,3}} q",
    "c1 {} shadow",
    "d1 {{1,1},{2,3}} q",
  ]);
  assert.deepEqual(await cells(names.copy), ["a1 {{1,1},{2,3}} q", "c1 {{1,1},{2,3}} q"]);
  const diff = await admin.diffOverlay(names, []);
  assert.deepEqual(
    diff.rows.map((r) => [r.kind, r.key, r.changed?.map((c) => c.column)]),
    [
      ["updated", { tenant: "a", id: "1" }, ["v"]],
      ["updated", { tenant: "c", id: "1" }, ["tags", "v"]],
    ],
  );
  assert.equal(await admin.resetOverlay(names, [{ tenant: "c", id: 1 }]), 1);
  assert.deepEqual((await cells(names.table))[2], "c1 {{1,1},{2,3}} q");
  await assert.rejects(admin.resetOverlay(names, [{ tenant: "a" }]), (e) =>
    isShadowdbError(e, "USAGE_INVALID"),
  );
});

test("a group of VALUES rows as large as the protocol allows, plus the key arrays of the overlay", async () => {
  // 3 columns: 21845 rows fill all 65535 parameters of one VALUES statement.
  const names = await overlaid("chunks", "id int PRIMARY KEY, tags int[], v text");
  const upserts = Array.from({ length: 21846 }, (_, id) => ({ id, tags: [id], v: "p" }));
  await shadow.query(`INSERT INTO public."${names.table.name}" VALUES (7, '{}', 'shadow')`);
  assert.deepEqual(await apply(viaUnnest, names, { upserts }), { toCopy: 1, lostInserts: 0, hidden: 0 });
  const { rows } = await look.query(
    `SELECT count(*)::int AS n FROM public."${names.table.name}" WHERE v = 'p'`,
  );
  assert.equal(rows[0].n, 21845);
});

test("odd identifiers: quotes, upper case, columns named like the function's variables", async () => {
  const table = { schema: "public", name: `ov_Odd"q_${suffix}` };
  const t = `public."ov_Odd""q_${suffix}"`;
  await look.query(
    `CREATE TABLE ${t} ("Id" int PRIMARY KEY, "found" text, "how" text, "we""ird" int, new int)`,
  );
  tables.push(table);
  const names = overlayNames(table);
  await admin.installOverlay(names);
  const row = (id: number, v: string) => ({ Id: id, found: v, how: v, 'we"ird': id, new: id });
  await apply(viaUnnest, names, { upserts: [row(1, "a"), row(2, "b")] });
  await shadow.query(`UPDATE ${t} SET "found" = 'shadow', "we""ird" = 0 WHERE "Id" = 1`);
  assert.deepEqual(await apply(viaUnnest, names, { upserts: [row(1, "p"), row(2, "p")] }), {
    toCopy: 1,
    lostInserts: 0,
    hidden: 0,
  });
  const diff = await admin.diffOverlay(names, ["how"]);
  assert.deepEqual(diff.rows[0]?.changed, [
    { column: "found", production: "p", shadow: "shadow" },
    { column: 'we"ird', production: "1", shadow: "0" },
  ]);
  assert.equal(await admin.resetOverlay(names, [{ Id: 1 }]), 1);
  const { rows } = await look.query(`SELECT * FROM ${t} ORDER BY "Id"`);
  assert.deepEqual(rows, [row(1, "p"), row(2, "p")]);
});

test("a shadow role without any privilege on the overlay tables is tracked all the same", async () => {
  const names = await overlaid("role");
  const t = `public."${names.table.name}"`;
  const role = `ov_shadow_role_${suffix}`;
  await apply(viaUnnest, names, { upserts: prod([1, "a"]) });
  await look.query(`CREATE ROLE ${role}`);
  try {
    await look.query(`GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON ${t} TO ${role}`);
    await shadow.query(`SET ROLE ${role}`);
    await shadow.query(`UPDATE ${t} SET v = 'shadow' WHERE id = 1`);
    await shadow.query(`INSERT INTO ${t} VALUES (2, 'shadow', 0)`);
    await assert.rejects(shadow.query(`SELECT * FROM public."${names.copy.name}"`), /permission denied/);
  } finally {
    await shadow.query("RESET ROLE");
    await look.query(`DROP OWNED BY ${role}`);
    await look.query(`DROP ROLE ${role}`);
  }
  assert.deepEqual(await ownedOf(names), ["1:u", "2:i"]);
  assert.deepEqual(await rowsOf(names.copy), ["1=a/null"]);
});

describe("truncate", () => {
  test("the shadow's TRUNCATE owns every row (how 't') and reset brings them back", async () => {
    const names = await overlaid("shadow_trunc");
    const t = `public."${names.table.name}"`;
    await apply(viaUnnest, names, { upserts: prod([1, "a"], [2, "b"], [3, "c"]) });
    await shadow.query(`UPDATE ${t} SET v = 'shadow' WHERE id = 1`);
    await shadow.query(`TRUNCATE ${t}`);
    assert.deepEqual(await rowsOf(names.table), []);
    assert.deepEqual(await ownedOf(names), ["1:u", "2:t", "3:t"]);
    // Production's versions: 1 as it was before the shadow's update, 2 and 3 as they were.
    assert.deepEqual(await rowsOf(names.copy), ["1=a/null", "2=b/null", "3=c/null"]);
    await apply(viaUnnest, names, { upserts: prod([3, "prod three"]) });
    assert.equal(await admin.resetOverlay(names), 3);
    assert.deepEqual(await rowsOf(names.table), ["1=a/null", "2=b/null", "3=prod three/null"]);
  });
});

describe("reset", () => {
  test("reset waits for a running apply transaction of the table and sees what it wrote", async () => {
    const names = await overlaid("reset_online");
    await apply(viaUnnest, names, { upserts: prod([1, "a", 1]) });
    await shadow.query(`UPDATE public."${names.table.name}" SET v = 'shadow' WHERE id = 1`);
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    let written!: () => void;
    const wrote = new Promise<void>((resolve) => {
      written = resolve;
    });
    const write = await describeWrite(viaUnnest, names, { upserts: prod([1, "prod", 10]) });
    const applying = viaUnnest.transaction(async (tx) => {
      const outcome = await tx.write(write);
      written();
      await gate;
      return outcome;
    });
    await wrote;
    const { rows } = await look.query<{ pid: number }>(
      `SELECT DISTINCT l.pid FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
        WHERE l.relation = $1::regclass AND a.application_name = 'shadowdb-apply'`,
      [`public."${names.table.name}"`],
    );
    assert.equal(rows.length, 1, "one apply transaction is open");
    const resetting = admin.resetOverlay(names);
    await blockedBy(rows[0]!.pid, resetting);
    release();
    assert.deepEqual(await applying, { toCopy: 1, lostInserts: 0, hidden: 0 });
    assert.equal(await resetting, 1);
    assert.deepEqual(await rowsOf(names.table), ["1=prod/10"]);
  });
});

test("diff: inserted, updated (noise column left out), deleted, values as PostgreSQL's text", async () => {
  const names = await overlaid(
    "diff",
    "id int PRIMARY KEY, v text, amount numeric(10,2), at timestamptz, b bytea, noise int",
  );
  const t = `public."${names.table.name}"`;
  const row = (id: number, v: string | null) => ({
    id,
    v,
    amount: "12.50",
    at: "2024-01-02T03:04:05.123456Z",
    b: Buffer.from([1, 2]),
    noise: 0,
  });
  await apply(viaUnnest, names, { upserts: [row(1, "one"), row(2, "two"), row(3, "three"), row(4, null)] });
  await shadow.query(`UPDATE ${t} SET amount = 13, v = NULL, noise = 1 WHERE id = 1`);
  await shadow.query(`UPDATE ${t} SET noise = noise + 1 WHERE id = 2`);
  await shadow.query(`DELETE FROM ${t} WHERE id = 3`);
  await shadow.query(`UPDATE ${t} SET v = v WHERE id = 4`);
  await shadow.query(`INSERT INTO ${t} (id, v, b) VALUES (5, 'five', '\\xff')`);

  const diff = await admin.diffOverlay(names, ["noise"]);
  assert.equal(diff.owned, 5);
  assert.deepEqual(diff.table, names.table);
  const production = (id: string, v: string) => ({
    id,
    v,
    amount: "12.50",
    at: "2024-01-02 03:04:05.123456+00",
    b: "\\x0102",
    noise: "0",
  });
  assert.deepEqual(diff.rows, [
    {
      kind: "updated",
      key: { id: "1" },
      production: production("1", "one"),
      shadow: { ...production("1", "one"), v: null, amount: "13.00", noise: "1" },
      changed: [
        { column: "v", production: "one", shadow: null },
        { column: "amount", production: "12.50", shadow: "13.00" },
      ],
    },
    { kind: "deleted", key: { id: "3" }, production: production("3", "three") },
    {
      kind: "inserted",
      key: { id: "5" },
      shadow: { id: "5", v: "five", amount: null, at: null, b: "\\xff", noise: null },
    },
  ]);
  // Without the noise column ignored, row 2 differs too.
  const noisy = await admin.diffOverlay(names, []);
  assert.deepEqual(
    noisy.rows.map((r) => `${r.kind} ${r.key.id}`),
    ["updated 1", "updated 2", "deleted 3", "inserted 5"],
  );
});

test("an ownership table from before how 'c' gets the new check when installed again", async () => {
  const names = await overlaid("howcheck");
  const owned = `public."${names.owned.name}"`;
  // The check as the first version created it (unnamed, so PostgreSQL named it).
  await look.query(
    `ALTER TABLE ${owned} DROP CONSTRAINT shadowdb_how_iudtc, ADD CHECK (how IN ('i', 'u', 'd', 't'))`,
  );
  await assert.rejects(look.query(`INSERT INTO ${owned} (id, how) VALUES (1, 'c')`), { code: "23514" });
  await admin.installOverlay(names);
  await look.query(`INSERT INTO ${owned} (id, how) VALUES (1, 'c')`);
  await assert.rejects(look.query(`INSERT INTO ${owned} (id, how) VALUES (2, 'x')`), { code: "23514" });
  const { rows } = await look.query(
    "SELECT conname FROM pg_constraint WHERE conrelid = $1::regclass AND contype = 'c'",
    [owned],
  );
  assert.deepEqual(
    rows.map((r) => r.conname),
    ["shadowdb_how_iudtc"],
  );
});

describe("id headroom", () => {
  test("the shadow's identity moves above production's ids, its own rows do not count, twice is a no-op", async () => {
    const names = await overlaid("ids", "id int GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, v text, n int");
    const t = `public."${names.table.name}"`;
    const range = (from: number, to: number) =>
      Array.from({ length: to - from + 1 }, (_, i) => ({ id: from + i, v: "prod", n: null }));
    await apply(viaUnnest, names, { upserts: [...range(1, 5), ...range(100, 100)] });
    assert.deepEqual(await admin.ensureIdHeadroom(names, 1000n), [
      { column: "id", productionMax: "100", next: "1100", remaining: "999", moved: true },
    ]);
    const inserted = await shadow.query(`INSERT INTO ${t} (v) VALUES ('shadow'), ('shadow') RETURNING id`);
    assert.deepEqual(
      inserted.rows.map((r) => r.id),
      [1100, 1101],
    );
    // Production goes on below the headroom: nothing collides, nothing is hidden or lost.
    assert.deepEqual(await apply(viaUnnest, names, { upserts: range(101, 150) }), {
      toCopy: 0,
      lostInserts: 0,
      hidden: 0,
    });
    // The shadow deletes production's highest row: it is in the copy now, and still counts.
    await shadow.query(`DELETE FROM ${t} WHERE id = 150`);
    assert.deepEqual(await admin.ensureIdHeadroom(names, 1000n), [
      { column: "id", productionMax: "150", next: "1102", remaining: "951", moved: false },
    ]);
    // Production comes within half the headroom: the shadow's ids move up again.
    await apply(viaUnnest, names, { upserts: range(700, 700) });
    assert.deepEqual(await admin.ensureIdHeadroom(names, 1000n), [
      { column: "id", productionMax: "700", next: "1700", remaining: "999", moved: true },
    ]);
    await shadow.query(`INSERT INTO ${t} (v) VALUES ('shadow')`);
    const { rows } = await look.query<{ prod: number; shadow: string }>(
      `SELECT count(*) FILTER (WHERE v = 'prod')::int AS prod,
              string_agg(id::text, ',' ORDER BY id) FILTER (WHERE v = 'shadow') AS shadow FROM ${t}`,
    );
    assert.deepEqual(rows[0], { prod: 5 + 1 + 49 + 1, shadow: "1100,1101,1700" });
    assert.deepEqual(await ownedOf(names), ["150:d", "1100:i", "1101:i", "1700:i"]);
  });

  test("serial and a nextval default of a bigint sequence: the integer column's maximum caps the move", async () => {
    const sequence = `ov_ids_seq_${suffix}`;
    await look.query(`CREATE SEQUENCE public.${sequence}`);
    try {
      const names = await overlaid(
        "ids_cap",
        `id serial PRIMARY KEY, ref int DEFAULT nextval('public.${sequence}'), v text`,
      );
      const t = `public."${names.table.name}"`;
      await apply(viaUnnest, names, {
        upserts: [
          { id: 1, ref: 2147483000, v: "prod" },
          { id: 2, ref: 10, v: "prod" },
        ],
      });
      assert.deepEqual(await admin.ensureIdHeadroom(names, 1000n), [
        { column: "id", productionMax: "2", next: "1002", remaining: "999", moved: true },
        { column: "ref", productionMax: "2147483000", next: "2147483647", remaining: "646", moved: true },
      ]);
      const { rows } = await shadow.query(`INSERT INTO ${t} (v) VALUES ('shadow') RETURNING id, ref`);
      assert.deepEqual(rows, [{ id: 1002, ref: 2147483647 }]);
      assert.deepEqual(await admin.ensureIdHeadroom(names, 1000n), [
        { column: "id", productionMax: "2", next: "1003", remaining: "1000", moved: false },
        { column: "ref", productionMax: "2147483000", next: "2147483648", remaining: "647", moved: false },
      ]);
    } finally {
      await look.query(`DROP SEQUENCE public.${sequence} CASCADE`);
    }
  });

  test("a table without sequences reports nothing; without the overlay it is refused", async () => {
    const names = await overlaid("ids_none");
    assert.deepEqual(await admin.ensureIdHeadroom(names, 1000n), []);
    await admin.uninstallOverlay(names);
    await assert.rejects(admin.ensureIdHeadroom(names, 1000n), (e) =>
      isShadowdbError(e, "OVERLAY_NOT_INSTALLED"),
    );
  });
});

describe("hidden by a unique conflict with an overlay row", () => {
  test("an expression index with a predicate: only a real collision with an overlay row hides", async () => {
    const names = await overlaid("hide_expr", "id int PRIMARY KEY, tenant int, email text, gone boolean");
    const t = `public."${names.table.name}"`;
    await look.query(
      `CREATE UNIQUE INDEX "ov_hide_expr_uq_${suffix}" ON ${t} (tenant, lower(email)) WHERE NOT gone`,
    );
    const row = (id: number, tenant: number, email: string, gone = false) => ({ id, tenant, email, gone });
    await apply(viaUnnest, names, { upserts: [row(1, 1, "a@x"), row(9, 1, "c@x")] });
    await shadow.query(`UPDATE ${t} SET email = 'B@x' WHERE id = 1`);
    const outcome = await apply(viaUnnest, names, {
      upserts: [row(2, 1, "b@X"), row(3, 2, "b@x"), row(4, 1, "b@x", true)],
    });
    assert.deepEqual(outcome, { toCopy: 0, lostInserts: 0, hidden: 1 });
    const ids = async (name: QualifiedName) =>
      (await look.query(`SELECT id FROM public."${name.name}" ORDER BY id`)).rows.map((r) => r.id);
    assert.deepEqual(await ids(names.table), [1, 3, 4, 9]);
    assert.deepEqual(await ids(names.copy), [1, 2]);
    // The same expression against production's own row 9 is a genuine conflict.
    await assert.rejects(apply(viaUnnest, names, { upserts: [row(5, 1, "C@X")] }), { code: "23505" });
  });
});
