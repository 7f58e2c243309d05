/**
 * What only MariaDB's overlay has (catalog objects, types, error codes, engine-specific races); the
 * behaviour both engines share is test/support/overlay-suite.ts, run by overlay-mariadb.test.ts.
 * The overlay on the real MariaDB, without Kafka: production's changes go through the Target as
 * apply/apply.ts sends them, and an ordinary mysql2 connection (REPEATABLE READ, the server's
 * default, as an application has it) plays the shadow service. The races of docs/design.md §4 are
 * played deterministically: a shadow transaction holds a row open, the apply write is seen
 * waiting for it in information_schema.INNODB_TRX, then the shadow commits.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import mysql from "mysql2/promise";
import type { ColumnType } from "../../src/decode/index.ts";
import type { Value } from "../../src/decode/values.ts";
import { overlayNames } from "../../src/overlay/names.ts";
import type { OverlayNames, TableWrite, WriteOutcome } from "../../src/target/dialect.ts";
import { MysqlTarget } from "../../src/target/mysql/target.ts";
import { stackEnv } from "../../stack/layout.ts";

const url = process.env.SHADOWDB_MY_SHADOW_URL ?? stackEnv().SHADOWDB_MY_SHADOW_URL;
const suffix = randomBytes(4).toString("hex");
const target = new MysqlTarget(url);
const made: OverlayNames[] = [];
const sessions: mysql.Connection[] = [];
/** Production's side for seeding and looking: marked like the apply session, so never tracked. */
let prod: mysql.Connection;
let database: string;

type Row = Record<string, Value>;

async function connect(): Promise<mysql.Connection> {
  const conn = await mysql.createConnection({
    uri: url,
    dateStrings: true,
    supportBigNumbers: true,
    bigNumberStrings: true,
  });
  sessions.push(conn);
  return conn;
}

/** A connection of the shadow service: nothing set, the server's REPEATABLE READ. */
const shadowSession = connect;

before(async () => {
  prod = await connect();
  await prod.query("SET @shadowdb_apply = 1, time_zone = '+00:00'");
  const [rows] = await prod.query("SELECT DATABASE() AS db");
  database = (rows as { db: string }[])[0]!.db;
  await target.prepare();
});

after(async () => {
  // Shadow and apply sessions first: a transaction a failed test left open would hold the tables
  // (uninstall opens a session of its own).
  for (const s of sessions.filter((s) => s !== prod)) s.destroy();
  await target.close();
  for (const names of made) {
    await target.uninstallOverlay(names);
    await prod.query(`DROP TABLE IF EXISTS \`${names.table.name}\``);
  }
  await prod.end();
});

/** A fresh table `ov_<base>_<suffix>` with `rows` as production's, and its overlay installed. */
async function overlaid(base: string, columns: string, rows: string[] = [], install = true) {
  const name = `ov_${base}_${suffix}`;
  await prod.query(`CREATE TABLE ${name} (${columns}) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`);
  const names = overlayNames({ schema: database, name });
  made.push(names);
  if (rows.length > 0) await prod.query(`INSERT INTO ${name} VALUES ${rows.join(", ")}`);
  if (install) await target.installOverlay(names);
  return names;
}

/** One apply transaction writing `changes` through the overlay, as apply/apply.ts builds it. */
async function apply(
  names: OverlayNames,
  changes: Partial<Pick<TableWrite, "upserts" | "deletes" | "truncate">>,
  overlay = true,
): Promise<WriteOutcome> {
  const shape = (await target.describe(names.table))!;
  const write: TableWrite = {
    table: shape,
    types: {},
    upserts: changes.upserts ?? [],
    deletes: changes.deletes ?? [],
    truncate: changes.truncate ?? false,
  };
  if (overlay) write.overlay = names;
  return target.transaction((tx) => tx.write(write));
}

/** `SELECT <columns> … ORDER BY 1` as "a|b|c" lines, NULL as ∅. */
async function lines(sql: string): Promise<string[]> {
  const [rows] = await prod.query({ sql, rowsAsArray: true });
  return (rows as unknown[][]).map((r) => r.map((c) => (c === null ? "∅" : String(c))).join("|"));
}

const contents = (table: { name: string }, columns = "id, v") =>
  lines(`SELECT ${columns} FROM \`${table.name}\` ORDER BY 1`);
const ownership = (names: OverlayNames) => lines(`SELECT id, how FROM \`${names.owned.name}\` ORDER BY 1`);

/**
 * Waits until a transaction whose statement contains `fragment` waits for a lock. InnoDB renews
 * its INNODB_TRX snapshot only when it was last read more than 0.1 s ago: poll slower than that.
 */
async function waitsForLock(fragment: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    await sleep(150);
    const [rows] = await prod.query(
      "SELECT COUNT(*) AS n FROM information_schema.INNODB_TRX WHERE trx_state = 'LOCK WAIT' AND LOCATE(?, trx_query) > 0",
      [fragment],
    );
    if (Number((rows as { n: number }[])[0]!.n) > 0) return;
  }
  throw new Error(`nobody waited for a lock in a statement with ${fragment}`);
}

/** The table as the apply statements name it (not matching the copy's or ownership table's names). */
const quoted = (table: { name: string }) => `\`${table.name}\``;

/** Resolves to "pending" while `promise` has not settled after a short while. */
async function stillPending(promise: Promise<unknown>): Promise<boolean> {
  const marker = Symbol();
  return (await Promise.race([promise.then(() => undefined), sleep(300).then(() => marker)])) === marker;
}

async function triggers(names: OverlayNames): Promise<string[]> {
  return lines(
    `SELECT CONCAT(TRIGGER_NAME, ' ', ACTION_TIMING, ' ', EVENT_MANIPULATION) FROM information_schema.TRIGGERS
      WHERE EVENT_OBJECT_SCHEMA = DATABASE() AND EVENT_OBJECT_TABLE = '${names.table.name}' ORDER BY 1`,
  );
}

async function tableExists(name: string): Promise<boolean> {
  return (
    (
      await lines(
        `SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = '${name}'`,
      )
    ).length > 0
  );
}

test("install twice changes nothing; uninstall leaves the table and its rows; both are idempotent", async () => {
  const names = await overlaid("inst", "id int PRIMARY KEY, v varchar(20)", ["(1, 'a')", "(2, 'b')"]);
  const before = await lines(
    `SELECT TRIGGER_NAME, ACTION_STATEMENT, CREATED FROM information_schema.TRIGGERS WHERE EVENT_OBJECT_TABLE = '${names.table.name}' ORDER BY 1`,
  );
  await target.installOverlay(names);
  assert.deepEqual(
    await lines(
      `SELECT TRIGGER_NAME, ACTION_STATEMENT, CREATED FROM information_schema.TRIGGERS WHERE EVENT_OBJECT_TABLE = '${names.table.name}' ORDER BY 1`,
    ),
    before,
    "the second install leaves the triggers as they were",
  );
  assert.deepEqual(await triggers(names), [
    `${names.trigger("del")} AFTER DELETE`,
    `${names.trigger("ins")} AFTER INSERT`,
    `${names.trigger("upd")} AFTER UPDATE`,
  ]);
  assert.ok(await tableExists(names.owned.name));
  assert.ok(await tableExists(names.copy.name));
  assert.deepEqual(
    await lines(
      `SELECT owned_table, copy_table FROM shadowdb_overlays WHERE table_name = '${names.table.name}'`,
    ),
    [`${names.owned.name}|${names.copy.name}`],
  );
  assert.ok((await target.listOverlays()).some((t) => t.name === names.table.name && t.schema === database));

  const shadow = await shadowSession();
  await shadow.query(`UPDATE ${names.table.name} SET v = 'shadow' WHERE id = 2`);
  assert.deepEqual(await ownership(names), ["2|u"]);

  await target.uninstallOverlay(names);
  await target.uninstallOverlay(names);
  assert.deepEqual(await triggers(names), []);
  assert.equal(await tableExists(names.owned.name), false);
  assert.equal(await tableExists(names.copy.name), false);
  assert.deepEqual(
    await lines(`SELECT 1 FROM shadowdb_overlays WHERE table_name = '${names.table.name}'`),
    [],
  );
  assert.deepEqual(await contents(names.table), ["1|a", "2|shadow"], "the table and its rows stay");
  // Without triggers, the shadow's writes are the table's business only.
  await shadow.query(`UPDATE ${names.table.name} SET v = 'free' WHERE id = 1`);
  assert.deepEqual(await contents(names.table), ["1|free", "2|shadow"]);
});

test("reinstall after ALTER TABLE ADD COLUMN: the copy gets the column, the triggers copy it", async () => {
  const names = await overlaid("grow", "id int PRIMARY KEY, v varchar(20)", ["(1, 'a')", "(2, 'b')"]);
  await prod.query(
    `ALTER TABLE ${names.table.name} ADD COLUMN extra decimal(8,2) NULL, ADD COLUMN tag varchar(5) COLLATE utf8mb4_bin`,
  );
  await prod.query(`UPDATE ${names.table.name} SET extra = 1.5, tag = 'p' WHERE id = 1`);
  await target.installOverlay(names);
  assert.deepEqual(
    await lines(
      `SELECT COLUMN_NAME, COLUMN_TYPE, COALESCE(COLLATION_NAME, '') FROM information_schema.COLUMNS
        WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = '${names.copy.name}' ORDER BY ORDINAL_POSITION`,
    ),
    ["id|int(11)|", "v|varchar(20)|utf8mb4_general_ci", "extra|decimal(8,2)|", "tag|varchar(5)|utf8mb4_bin"],
  );
  assert.equal((await triggers(names)).length, 3, "no stand-in trigger is left behind");
  const shadow = await shadowSession();
  await shadow.query(`UPDATE ${names.table.name} SET extra = 9, tag = 's' WHERE id = 1`);
  assert.deepEqual(await contents(names.copy, "id, v, extra, tag"), ["1|a|1.50|p"]);
  // Apply writes the new columns for owned keys into the copy.
  await apply(names, { upserts: [{ id: 1, v: "a2", extra: "2.25", tag: "q" }] });
  assert.deepEqual(await contents(names.copy, "id, v, extra, tag"), ["1|a2|2.25|q"]);
  assert.deepEqual(await contents(names.table, "id, v, extra, tag"), ["1|a|9.00|s", "2|b|∅|∅"]);
});

test("shadow writes own their keys; apply sends owned keys to the copy, the rest to the table", async () => {
  const names = await overlaid("route", "id int PRIMARY KEY, v varchar(20), big longtext, n int", [
    "(1, 'p1', 'B1', 1)",
    "(2, 'p2', 'B2', 2)",
    "(3, 'p3', 'B3', 3)",
    "(4, 'p4', 'B4', 4)",
    "(5, 'p5', 'B5', 5)",
    "(6, 'p6', 'B6', 6)",
  ]);
  const t = names.table.name;
  const shadow = await shadowSession();
  // The triggers leave the shadow's statements as they were: no warning, the usual row counts
  // (an owned key's duplicate ownership is handled inside the trigger).
  const run = async (sql: string, affected: number) => {
    const [result] = await shadow.query<mysql.ResultSetHeader>(sql);
    assert.equal(result.warningStatus, 0, sql);
    assert.equal(result.affectedRows, affected, sql);
  };
  await run(`INSERT INTO ${t} VALUES (10, 's10', 'S', 0)`, 1);
  await run(`UPDATE ${t} SET v = 's2' WHERE id = 2`, 1);
  await run(`UPDATE ${t} SET v = 's2 again' WHERE id = 2`, 1);
  await run(`DELETE FROM ${t} WHERE id = 3`, 1);
  await run(`UPDATE ${t} SET id = 40, v = 's40' WHERE id = 4`, 1);
  await run(`INSERT INTO ${t} VALUES (5, 'x', 'x', 0) ON DUPLICATE KEY UPDATE v = 's5'`, 2);
  assert.deepEqual(await ownership(names), ["2|u", "3|d", "4|u", "5|u", "10|i", "40|u"]);
  // The copy holds production's versions of the keys production has: the first write's OLD.
  assert.deepEqual(await contents(names.copy, "id, v, big, n"), [
    "2|p2|B2|2",
    "3|p3|B3|3",
    "4|p4|B4|4",
    "5|p5|B5|5",
  ]);

  const outcome = await apply(names, {
    upserts: [
      { id: 1, v: "P1", big: "B1", n: 1 },
      { id: 2, v: "P2", big: "B2", n: 2 },
      { id: 3, v: "P3", big: "B3", n: 3 },
      { id: 7, v: "P7", big: "B7", n: 7 },
      { id: 10, v: "P10", big: "B10", n: 10 },
    ],
    deletes: [{ id: 4 }, { id: 6 }],
  });
  assert.deepEqual(outcome, { toCopy: 4, lostInserts: 0, hidden: 0 });
  assert.deepEqual(await contents(names.table), ["1|P1", "2|s2 again", "5|s5", "7|P7", "10|s10", "40|s40"]);
  assert.deepEqual(await contents(names.copy), ["2|P2", "3|P3", "5|p5", "10|P10"]);
  assert.deepEqual(
    await ownership(names),
    ["2|u", "3|d", "4|u", "5|u", "10|i", "40|u"],
    "apply owns nothing",
  );

  // TOAST: an update without its unchanged columns keeps the copy's stored values.
  assert.deepEqual(await apply(names, { upserts: [{ id: 2, n: 22 }] }), {
    toCopy: 1,
    lostInserts: 0,
    hidden: 0,
  });
  assert.deepEqual(await contents(names.copy, "id, v, big, n"), [
    "2|P2|B2|22",
    "3|P3|B3|3",
    "5|p5|B5|5",
    "10|P10|B10|10",
  ]);
  // A delete and an insert of the same key in one write (a key change), owned and not.
  assert.deepEqual(
    await apply(names, {
      deletes: [{ id: 10 }, { id: 7 }],
      upserts: [
        { id: 10, v: "again" },
        { id: 7, v: "again" },
      ],
    }),
    { toCopy: 2, lostInserts: 0, hidden: 0 },
  );
  assert.deepEqual(await contents(names.copy, "id, v, big"), ["2|P2|B2", "3|P3|B3", "5|p5|B5", "10|again|∅"]);
  assert.deepEqual(await contents(names.table, "id, v, big"), [
    "1|P1|B1",
    "2|s2 again|B2",
    "5|s5|B5",
    "7|again|∅",
    "10|s10|S",
    "40|s40|B4",
  ]);
  // Without the overlay a write goes to the table, as before the overlay existed.
  assert.deepEqual(await apply(names, { upserts: [{ id: 1, v: "plain" }] }, false), {
    toCopy: 0,
    lostInserts: 0,
    hidden: 0,
  });
  assert.deepEqual((await contents(names.table))[0], "1|plain");
});

test("a shadow session whose snapshot predates another's first write does not copy a shadow version", async () => {
  const names = await overlaid("snap", "id int PRIMARY KEY, v varchar(20)", ["(1, 'p1')"]);
  const [a, b] = [await shadowSession(), await shadowSession()];
  await a.query("BEGIN");
  await a.query(`SELECT * FROM ${names.table.name}`);
  await b.query(`UPDATE ${names.table.name} SET v = 'b' WHERE id = 1`);
  // A's REPEATABLE READ snapshot does not show b's ownership; its trigger must not take 1 for a
  // first write (and copy b's version as production's, or fail on the duplicate ownership).
  await a.query(`UPDATE ${names.table.name} SET v = 'a' WHERE id = 1`);
  await a.query("COMMIT");
  assert.deepEqual(await contents(names.table), ["1|a"]);
  assert.deepEqual(await contents(names.copy), ["1|p1"]);
  assert.deepEqual(await ownership(names), ["1|u"]);
});

test("a READ COMMITTED shadow statement that waits for another shadow's first write of its second row", async () => {
  const names = await overlaid("snap_rc", "id int PRIMARY KEY, v varchar(20)", ["(1, 'p1')", "(2, 'p2')"]);
  const [a, b] = [await shadowSession(), await shadowSession()];
  await a.query("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED");
  await b.query("BEGIN");
  await b.query(`UPDATE ${names.table.name} SET v = 'b' WHERE id = 2`);
  // a's trigger reads for row 1 before a waits for row 2: a snapshot taken then misses b's
  // ownership of 2, committed during the wait.
  const updating = a.query(`UPDATE ${names.table.name} SET v = 'a' WHERE id IN (1, 2)`);
  await waitsForLock(names.table.name);
  await b.query("COMMIT");
  await updating;
  assert.deepEqual(await contents(names.table), ["1|a", "2|a"]);
  assert.deepEqual(await contents(names.copy), ["1|p1", "2|p2"]);
  assert.deepEqual(await ownership(names), ["1|u", "2|u"]);
});

test("keys match as the database compares them: _ci collation, DATETIME and DECIMAL keys", async () => {
  const names = await overlaid(
    "match",
    "code varchar(10) COLLATE utf8mb4_general_ci, at datetime(6), amount decimal(6,2), v varchar(10), PRIMARY KEY (code, at, amount)",
    ["('abc', '2024-01-02 03:04:05.5', 1.5, 'p')", "('def', '2024-01-02 00:00:00', 2, 'p')"],
  );
  const shadow = await shadowSession();
  await shadow.query(`UPDATE ${names.table.name} SET v = 's' WHERE code = 'abc'`);
  // Production spells the keys its way: case, 'T', fewer digits. They are the same keys.
  const outcome = await apply(names, {
    upserts: [
      { code: "ABC", at: "2024-01-02 03:04:05.500", amount: "1.50", v: "P" },
      { code: "def", at: "2024-01-02T00:00:00", amount: 2, v: "P" },
    ],
  });
  assert.deepEqual(outcome, { toCopy: 1, lostInserts: 0, hidden: 0 });
  assert.deepEqual(await contents(names.table, "code, at, amount, v"), [
    "abc|2024-01-02 03:04:05.500000|1.50|s",
    "def|2024-01-02 00:00:00.000000|2.00|P",
  ]);
  assert.deepEqual(await contents(names.copy, "code, v"), ["abc|P"]);
});

// In each race the held key is not the write's first: a statement that read ownership for the
// first key before it waited for the held one would carry a snapshot from before the commit.

/**
 * Holds apply between its ownership read (step 3) and its inserts (step 5): a second session
 * locks the copy row of an owned key that the same write updates first.
 */
async function heldAfterOwnershipRead(names: OverlayNames, upserts: Row[]) {
  const blocker = await shadowSession();
  await blocker.query("BEGIN");
  await blocker.query(`SELECT * FROM ${names.copy.name} WHERE id = 1 FOR UPDATE`);
  const applying = apply(names, { upserts });
  await waitsForLock(quoted(names.copy));
  return { applying, release: () => blocker.query("COMMIT") };
}

test("race: a shadow INSERT of an absent key after apply's ownership read → apply's insert loses, goes to the copy", async () => {
  const names = await overlaid("race_lost", "id int PRIMARY KEY, v varchar(20)", ["(1, 'p1')"]);
  const shadow = await shadowSession();
  await shadow.query(`UPDATE ${names.table.name} SET v = 'shadow' WHERE id = 1`);
  const { applying, release } = await heldAfterOwnershipRead(names, [
    { id: 1, v: "P1 new" },
    { id: 5, v: "production" },
    { id: 6, v: "production" },
  ]);
  // Key 5 was absent and not owned when apply read: now the shadow takes it, and holds it open
  // while apply's INSERT arrives.
  await shadow.query("BEGIN");
  await shadow.query(`INSERT INTO ${names.table.name} VALUES (5, 'shadow')`);
  await release();
  await waitsForLock(quoted(names.table));
  assert.ok(await stillPending(applying));
  await shadow.query("COMMIT");
  assert.deepEqual(await applying, { toCopy: 1, lostInserts: 1, hidden: 0 });
  assert.deepEqual(await contents(names.table), ["1|shadow", "5|shadow", "6|production"]);
  assert.deepEqual(await contents(names.copy), ["1|P1 new", "5|production"]);
  assert.deepEqual(await ownership(names), ["1|u", "5|i"]);
});

test("race: a shadow inserts and deletes the key while apply's insert waits → apply's row moves to the copy", async () => {
  const names = await overlaid("race_gone", "id int PRIMARY KEY, v varchar(20)", ["(1, 'p1')"]);
  const shadow = await shadowSession();
  await shadow.query(`UPDATE ${names.table.name} SET v = 'shadow' WHERE id = 1`);
  const { applying, release } = await heldAfterOwnershipRead(names, [
    { id: 1, v: "P1 new" },
    { id: 5, v: "production" },
  ]);
  await shadow.query("BEGIN");
  await shadow.query(`INSERT INTO ${names.table.name} VALUES (5, 'shadow')`);
  await release();
  await waitsForLock(quoted(names.table));
  await shadow.query(`DELETE FROM ${names.table.name} WHERE id = 5`);
  await shadow.query("COMMIT");
  assert.deepEqual(await applying, { toCopy: 1, lostInserts: 1, hidden: 0 });
  assert.deepEqual(await contents(names.table), ["1|shadow"], "the shadow's delete of 5 stays");
  assert.deepEqual(await contents(names.copy), ["1|P1 new", "5|production"]);
});

test("a duplicate on another unique key is an error, not a lost insert", async () => {
  const names = await overlaid("uniq", "id int PRIMARY KEY, v varchar(20), d date, UNIQUE KEY (v)", [
    "(1, 'taken', NULL)",
  ]);
  await assert.rejects(
    apply(names, { upserts: [{ id: 2, v: "taken" }] }),
    (e: { errno?: number }) => e.errno === 1062,
  );
  assert.deepEqual(await contents(names.table), ["1|taken"]);
  // A data error stays an error too (INSERT IGNORE would store 0000-00-00). A value too long for
  // v never gets this far: src/target/fit.ts refuses it as TARGET_VALUE_ALTERED before the write.
  await assert.rejects(
    apply(names, { upserts: [{ id: 3, v: "x", d: "2024-02-30" }] }),
    (e: { errno?: number }) => e.errno === 1292,
  );
});

test("reset one key while apply goes on, then all: the table equals production again", async () => {
  const names = await overlaid("reset", "id int PRIMARY KEY, v varchar(20)", [
    "(1, 'p1')",
    "(2, 'p2')",
    "(3, 'p3')",
    "(4, 'p4')",
  ]);
  const t = names.table.name;
  const shadow = await shadowSession();
  await shadow.query(`UPDATE ${t} SET v = 'shadow' WHERE id IN (1, 2)`);
  await shadow.query(`INSERT INTO ${t} VALUES (7, 'shadow')`);
  await shadow.query(`DELETE FROM ${t} WHERE id = 4`);
  await apply(names, {
    upserts: [
      { id: 1, v: "P1 new" },
      { id: 3, v: "P3 new" },
    ],
  });

  // Reset waits for an apply transaction on the table, and then sees what it wrote.
  let release: () => void = () => undefined;
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  // Reset starts only once apply has written: otherwise reset can win the race and finish first,
  // and nobody waits (this failed on a slow CI machine).
  let written: () => void = () => undefined;
  const wrote = new Promise<void>((resolve) => {
    written = resolve;
  });
  const shape = (await target.describe(names.table))!;
  const applying = target.transaction(async (tx) => {
    await tx.write({
      table: shape,
      types: {},
      truncate: false,
      deletes: [],
      upserts: [{ id: 1, v: "P1 newer" }],
      overlay: names,
    });
    written();
    await gate;
  });
  await wrote;
  const resetting = target.resetOverlay(names, [{ id: 1 }, { id: 99 }]);
  await waitsForLock("shadowdb_overlays");
  assert.ok(await stillPending(resetting), "reset waits for the apply transaction");
  release();
  await applying;
  assert.equal(await resetting, 1, "99 is not owned: one key reset");
  assert.deepEqual(await contents(names.table), ["1|P1 newer", "2|shadow", "3|P3 new", "7|shadow"]);
  assert.deepEqual(await ownership(names), ["2|u", "4|d", "7|i"]);
  // Key 1 is production's again: apply writes the table.
  assert.deepEqual(await apply(names, { upserts: [{ id: 1, v: "P1 newest" }] }), {
    toCopy: 0,
    lostInserts: 0,
    hidden: 0,
  });

  assert.equal(await target.resetOverlay(names), 3);
  assert.deepEqual(await contents(names.table), ["1|P1 newest", "2|p2", "3|P3 new", "4|p4"]);
  assert.deepEqual(await ownership(names), []);
  assert.deepEqual(await contents(names.copy), []);
  assert.equal(await target.resetOverlay(names), 0);
  // The shadow's next write owns again.
  await shadow.query(`UPDATE ${t} SET v = 'again' WHERE id = 2`);
  assert.deepEqual(await contents(names.copy), ["2|p2"]);
});

test("diff: inserted, updated (noise column ignored), deleted; values as MariaDB renders them", async () => {
  const names = await overlaid(
    "diff",
    "id int PRIMARY KEY, v varchar(20), amount decimal(8,2), at datetime(6), bin varbinary(8), flags bit(4), touched_at datetime",
    [
      "(1, 'p1', 1.5, '2024-01-02 03:04:05.123456', x'00ff', b'1010', '2024-01-01 00:00:00')",
      "(2, 'p2', 2, '2024-01-02 00:00:00', NULL, b'0001', '2024-01-01 00:00:00')",
      "(3, 'p3', 3, '2024-01-02 00:00:00', x'01', b'0000', '2024-01-01 00:00:00')",
      "(4, 'p4', 4, '2024-01-02 00:00:00', x'02', b'0000', '2024-01-01 00:00:00')",
    ],
  );
  const t = names.table.name;
  const shadow = await shadowSession();
  await shadow.query(
    `UPDATE ${t} SET v = 'shadow', amount = 1.25, bin = x'abcd', touched_at = NOW() WHERE id = 1`,
  );
  await shadow.query(`UPDATE ${t} SET touched_at = NOW() WHERE id = 2`);
  await shadow.query(`DELETE FROM ${t} WHERE id = 3`);
  await shadow.query(`INSERT INTO ${t} VALUES (5, NULL, 5, '2024-05-05 05:05:05', NULL, b'1111', NULL)`);
  await shadow.query(`UPDATE ${t} SET v = 'x' WHERE id = 4`);
  await shadow.query(`UPDATE ${t} SET v = 'p4' WHERE id = 4`);

  const diff = await target.diffOverlay(names, ["touched_at"]);
  assert.equal(diff.owned, 5);
  assert.deepEqual(diff.table, names.table);
  assert.deepEqual(
    diff.rows.map((r) => `${r.kind} ${r.key.id}`),
    ["updated 1", "deleted 3", "inserted 5"],
    "2 differs only in the noise column, 4 is back to production's values",
  );
  const [updated, deleted, inserted] = diff.rows;
  assert.deepEqual(updated!.changed, [
    { column: "v", production: "p1", shadow: "shadow" },
    { column: "amount", production: "1.50", shadow: "1.25" },
    { column: "bin", production: "00FF", shadow: "ABCD" },
  ]);
  assert.equal(updated!.production!.at, "2024-01-02 03:04:05.123456");
  assert.equal(updated!.production!.flags, "1010");
  assert.deepEqual(deleted!.production, {
    id: "3",
    v: "p3",
    amount: "3.00",
    at: "2024-01-02 00:00:00.000000",
    bin: "01",
    flags: "0",
    touched_at: "2024-01-01 00:00:00",
  });
  assert.equal(deleted!.shadow, undefined);
  assert.deepEqual(inserted!.shadow, {
    id: "5",
    v: null,
    amount: "5.00",
    at: "2024-05-05 05:05:05.000000",
    bin: null,
    flags: "1111",
    touched_at: null,
  });
  assert.equal(inserted!.production, undefined);
  // Without the noise column ignored, 2 is an update of touched_at only.
  const noisy = await target.diffOverlay(names, []);
  assert.deepEqual(
    noisy.rows.find((r) => r.key.id === "2")?.changed?.map((c) => c.column),
    ["touched_at"],
  );
});

test("large rows go in statements within max_allowed_packet, with the overlay and without", async () => {
  // 600 rows of 48 KiB: by their parameter count alone (2 a row), 512 of them (24 MiB) would share a statement.
  const big = (id: number) => `${id}`.padEnd(48 * 1024, "x");
  const upserts = Array.from({ length: 600 }, (_, i) => ({ id: i + 1, big: big(i + 1) }));
  const [packet] = await prod.query("SELECT @@max_allowed_packet AS n");
  assert.ok(
    upserts.length * 48 * 1024 > Number((packet as { n: number }[])[0]!.n),
    "the rows exceed one packet",
  );
  for (const overlay of [false, true]) {
    const names = await overlaid(`big${overlay ? "o" : ""}`, "id int PRIMARY KEY, big longtext", [], overlay);
    assert.deepEqual(await apply(names, { upserts }, overlay), { toCopy: 0, lostInserts: 0, hidden: 0 });
    assert.deepEqual(
      await lines(
        `SELECT COUNT(*), SUM(LENGTH(big)), MIN(big = CONCAT(id, REPEAT('x', ${48 * 1024} - LENGTH(id)))) FROM ${names.table.name}`,
      ),
      [`600|${600 * 48 * 1024}|1`],
    );
  }
});

test("addColumns adds only the columns the table lacks (MySQL 8 has no ADD COLUMN IF NOT EXISTS)", async () => {
  const names = await overlaid("add", "id int PRIMARY KEY, v varchar(20)", [], false);
  const text: ColumnType = { kind: "string", optional: true };
  await target.addColumns(names.table, [
    { name: "v", type: text },
    { name: "w", type: text },
  ]);
  assert.deepEqual([...(await target.describe(names.table))!.columns.keys()], ["id", "v", "w"]);
});

test("id headroom: the shadow's AUTO_INCREMENT moves above production's ids, production's rows keep coming", async () => {
  const names = await overlaid("ids", "id int AUTO_INCREMENT PRIMARY KEY, v varchar(20)");
  const t = names.table.name;
  // Production's rows arrive with their ids; InnoDB's counter follows them to 6.
  await apply(names, { upserts: [1, 2, 3, 4, 5].map((id) => ({ id, v: `p${id}` })) });
  assert.deepEqual(await target.ensureIdHeadroom(names, 1000n), [
    { column: "id", productionMax: "5", next: "1005", remaining: "999", moved: true },
  ]);
  // The shadow inserts through the default while production's next ids arrive below its range.
  const shadow = await shadowSession();
  await shadow.query(`INSERT INTO ${t} (v) VALUES ('s1'), ('s2')`);
  assert.deepEqual(await apply(names, { upserts: [6, 7, 8, 9, 10].map((id) => ({ id, v: `p${id}` })) }), {
    toCopy: 0,
    lostInserts: 0,
    hidden: 0,
  });
  assert.deepEqual(await contents(names.table), [
    ...[1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map((id) => `${id}|p${id}`),
    "1005|s1",
    "1006|s2",
  ]);
  assert.deepEqual(await ownership(names), ["1005|i", "1006|i"]);
  // The shadow's own rows are not production's: nothing to move, and the call is a no-op.
  const again = [{ column: "id", productionMax: "10", next: "1007", remaining: "996", moved: false }];
  assert.deepEqual(await target.ensureIdHeadroom(names, 1000n), again);
  assert.deepEqual(await target.ensureIdHeadroom(names, 1000n), again);
  // Production's highest row, deleted by the shadow, still counts: it is in the copy.
  await shadow.query(`DELETE FROM ${t} WHERE id = 10`);
  assert.equal((await target.ensureIdHeadroom(names, 1000n))[0]!.productionMax, "10");
  // Production comes within half the headroom: the counter moves up again.
  await apply(names, { upserts: [{ id: 600, v: "p600" }] });
  assert.deepEqual(await target.ensureIdHeadroom(names, 1000n), [
    { column: "id", productionMax: "600", next: "1600", remaining: "999", moved: true },
  ]);
  await shadow.query(`INSERT INTO ${t} (v) VALUES ('s3')`);
  assert.deepEqual(await lines(`SELECT id FROM ${t} WHERE v = 's3'`), ["1600"]);
});

test("id headroom: capped at the column type's maximum; no production row counts as 0; no AUTO_INCREMENT, nothing", async () => {
  const names = await overlaid("ids_cap", "id int AUTO_INCREMENT PRIMARY KEY, v varchar(20)");
  await apply(names, { upserts: [{ id: 2147483600, v: "near the top" }] });
  const capped = [
    { column: "id", productionMax: "2147483600", next: "2147483647", remaining: "46", moved: true },
  ];
  assert.deepEqual(await target.ensureIdHeadroom(names, 1000n), capped);
  assert.deepEqual(await target.ensureIdHeadroom(names, 1000n), [{ ...capped[0]!, moved: false }]);

  const empty = await overlaid("ids_empty", "id bigint unsigned AUTO_INCREMENT PRIMARY KEY, v varchar(20)");
  assert.deepEqual(await target.ensureIdHeadroom(empty, 1000n), [
    { column: "id", productionMax: null, next: "1000", remaining: "999", moved: true },
  ]);
  // The AUTO_INCREMENT column need not be the key: ownership still goes by the key. The shadow's
  // value 900 (which raised the counter) is not production's; production's 8 is in the copy.
  const other = await overlaid(
    "ids_other",
    "code varchar(10) PRIMARY KEY, n bigint NOT NULL AUTO_INCREMENT, UNIQUE KEY (n)",
    ["('a', 7)", "('b', 8)"],
  );
  const shadow = await shadowSession();
  await shadow.query(`UPDATE ${other.table.name} SET n = 900 WHERE code = 'b'`);
  assert.deepEqual(await target.ensureIdHeadroom(other, 100n), [
    { column: "n", productionMax: "8", next: "901", remaining: "892", moved: false },
  ]);

  const plain = await overlaid("ids_none", "id int PRIMARY KEY, v varchar(20)");
  assert.deepEqual(await target.ensureIdHeadroom(plain, 1000n), []);
});

test("id headroom: a shadow transaction holding the table makes the check fail soon, not stall", async () => {
  const names = await overlaid("ids_mdl", "id int AUTO_INCREMENT PRIMARY KEY, v varchar(20)", ["(1, 'p1')"]);
  const shadow = await shadowSession();
  await shadow.query("BEGIN");
  await shadow.query(`SELECT * FROM ${names.table.name}`);
  const started = Date.now();
  await assert.rejects(target.ensureIdHeadroom(names, 1000n), (e: { errno?: number }) => e.errno === 1205);
  assert.ok(Date.now() - started < 10_000);
  await shadow.query("COMMIT");
  assert.equal((await target.ensureIdHeadroom(names, 1000n))[0]!.moved, true);
});

test("hidden by conflict: a production row that collides with an overlay row on another unique key is kept aside", async () => {
  const names = await overlaid(
    "hide",
    "id int PRIMARY KEY, email varchar(40), code varchar(10), v varchar(20), UNIQUE KEY (email), UNIQUE KEY (code)",
    ["(1, 'a@x', 'A', 'p1')", "(2, 'b@x', 'B', 'p2')", "(3, 'c@x', 'C', 'p3')"],
  );
  const t = names.table.name;
  const shadow = await shadowSession();
  await shadow.query(`UPDATE ${t} SET email = 'X@x' WHERE id = 1`);
  await shadow.query(`INSERT INTO ${t} VALUES (9, 'y@x', 'Y', 's9')`);
  // 4 (new) collides with the shadow's 1 (email, case-insensitive), 2 (an update) with the
  // shadow's 9; 3 and 5 go through in the same statements.
  const outcome = await apply(names, {
    upserts: [
      { id: 2, email: "y@x", code: "B", v: "P2" },
      { id: 3, email: "c@x", code: "C", v: "P3 new" },
      { id: 4, email: "x@x", code: "D", v: "P4" },
      { id: 5, email: "e@x", code: "E", v: "P5" },
    ],
  });
  assert.deepEqual(outcome, { toCopy: 0, lostInserts: 0, hidden: 2 });
  const all = "id, email, code, v";
  assert.deepEqual(await contents(names.table, all), [
    "1|X@x|A|p1",
    "3|c@x|C|P3 new",
    "5|e@x|E|P5",
    "9|y@x|Y|s9",
  ]);
  assert.deepEqual(await contents(names.copy, all), ["1|a@x|A|p1", "2|y@x|B|P2", "4|x@x|D|P4"]);
  assert.deepEqual(await ownership(names), ["1|u", "2|c", "4|c", "9|i"]);

  const diff = await target.diffOverlay(names, []);
  assert.equal(diff.owned, 4);
  assert.deepEqual(
    diff.rows.map((r) => `${r.kind} ${r.key.id}`),
    ["updated 1", "hidden 2", "hidden 4", "inserted 9"],
  );
  assert.deepEqual(diff.rows[2], {
    kind: "hidden",
    key: { id: "4" },
    production: { id: "4", email: "x@x", code: "D", v: "P4" },
  });

  // A hidden key is owned: production's next change to it goes to the copy.
  assert.deepEqual(await apply(names, { upserts: [{ id: 4, email: "x@x", code: "D", v: "P4 new" }] }), {
    toCopy: 1,
    lostInserts: 0,
    hidden: 0,
  });
  // Conflicts that do not involve (only) an overlay row stay errors: with production's 3, and
  // with the shadow's 1 on email but production's 3 on code.
  for (const row of [
    { id: 6, email: "c@x", code: "F", v: "P6" },
    { id: 6, email: "X@x", code: "C", v: "P6" },
  ]) {
    await assert.rejects(apply(names, { upserts: [row] }), (e: { errno?: number }) => e.errno === 1062);
  }
  assert.deepEqual(await ownership(names), ["1|u", "2|c", "4|c", "9|i"]);

  // Reset of 4 alone: the shadow's 1 still holds its email, so the reset fails and changes nothing.
  await assert.rejects(target.resetOverlay(names, [{ id: 4 }]), (e: { errno?: number }) => e.errno === 1062);
  assert.deepEqual(await ownership(names), ["1|u", "2|c", "4|c", "9|i"]);
  // Reset of all: production entirely.
  assert.equal(await target.resetOverlay(names), 4);
  assert.deepEqual(await contents(names.table, all), [
    "1|a@x|A|p1",
    "2|y@x|B|P2",
    "3|c@x|C|P3 new",
    "4|x@x|D|P4 new",
    "5|e@x|E|P5",
  ]);
  assert.deepEqual(await ownership(names), []);
  assert.deepEqual(await contents(names.copy), []);
});

test("hidden by conflict on a prefix index and a two-column index (NULLs never collide)", async () => {
  const names = await overlaid(
    "hide_parts",
    "id int PRIMARY KEY, name varchar(40), a int, b int, UNIQUE KEY (name(4)), UNIQUE KEY (a, b)",
    ["(1, 'alpha', 1, 1)", "(2, 'beta', 2, NULL)"],
  );
  const shadow = await shadowSession();
  await shadow.query(`UPDATE ${names.table.name} SET name = 'gammaray', a = 7, b = 7 WHERE id = 1`);
  await shadow.query(`UPDATE ${names.table.name} SET a = 8 WHERE id = 2`);
  const outcome = await apply(names, {
    upserts: [
      { id: 3, name: "gamma", a: 3, b: 3 },
      { id: 4, name: "delta", a: 7, b: 7 },
      { id: 5, name: "epsilon", a: 8, b: null },
    ],
  });
  assert.deepEqual(outcome, { toCopy: 0, lostInserts: 0, hidden: 2 });
  assert.deepEqual(await contents(names.table, "id, name, a, b"), [
    "1|gammaray|7|7",
    "2|beta|8|∅",
    "5|epsilon|8|∅",
  ]);
  assert.deepEqual(await ownership(names), ["1|u", "2|u", "3|c", "4|c"]);
});
