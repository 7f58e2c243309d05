/**
 * `shadowdb seed` against the real stack, the same scenarios on every engine: production keeps
 * writing while the seed loads it and while `run` goes on from the seed's positions, and the
 * shadow ends equal to production, value for value, through a rename and an exclusion. Then what
 * the seed refuses, each with its code and nothing written. Each engine's file
 * (seed-<engine>.test.ts) gives its columns, values, statements and own refusals.
 */
import assert from "node:assert/strict";
import { randomBytes, randomInt } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { test } from "node:test";
import { cli } from "./cli.ts";
import type { Sql } from "./crash.ts";
import { type Engine, engines } from "./engines.ts";
import { services } from "./env.ts";
import { kafkaClient, waitForTopic } from "./kafka.ts";
import { eventually, startMaterializer } from "./materialize.ts";
import { uninstallOverlays } from "./overlay.ts";

export interface RefusalContext {
  prod: Sql;
  shadow: Sql;
  table: string;
  suffix: string;
  /** A config file for the table: `table` adds lines to its entry, `source` replaces the seed's URL. */
  config(name: string, extra?: { table?: string; source?: string }): string;
}

export interface SeedSide {
  name: Engine["name"];
  /** Table names start with it (`<prefix>_` and `<prefix>r_`): the messages asserted name them. */
  prefix: string;
  /** Production's table: id, some typed columns, then note (renamed remark) and secret (excluded). */
  columns: string;
  /** A row of every kind of value, with text the bulk load must escape (tab, newline, backslash). */
  rowValues(id: number, version: number): string;
  /** An update of every kind of column of row `id`. */
  update(table: string, id: number, writes: number): string;
  /** After production's table is created, before any row. */
  prepare?(prod: Sql, table: string): Promise<void>;
  /** next_offset as text. */
  offsetText: string;
  /** The shadow table's columns in order, as `name` (and whatever checkShape needs). */
  shapeSql(table: string): string;
  shape: string[];
  checkShape?(rows: Record<string, unknown>[]): void;
  /** Every column as text that compares exactly, `note` as the note column's name. */
  listing(table: string, note: string): string;
  /** The refusal test's production table, `id int PRIMARY KEY, email …`, with 50 rows. */
  emailColumns: string;
  fifty(table: string): string;
  /** The engine's own refusals, after SEED_NOT_EMPTY and SEED_UNSUPPORTED; they leave the shadow table empty. */
  refusals(ctx: RefusalContext): Promise<void>;
  /** Cleanup of what refusals created besides the table. */
  cleanUp?(prod: Sql, suffix: string): Promise<void>;
}

const engineOf = async (name: Engine["name"]) => engines(await services()).find((e) => e.name === name)!;

export function seedSuite(side: SeedSide): void {
  test(`${side.name}: seed while production writes, then run: the shadow equals production`, {
    timeout: 240_000,
  }, async () => {
    const e = await engineOf(side.name);
    const env = await services();
    const prodUrl = side.name === "postgres" ? env.SHADOWDB_PG_PROD_URL : env.SHADOWDB_MY_PROD_URL;
    const suffix = randomBytes(4).toString("hex");
    const table = `${side.prefix}_${suffix}`;
    const group = `test-${side.prefix}-${suffix}`;
    const topic = e.topic(table);
    const prod = await e.connectProd();
    const shadow = await e.connectShadow();
    const dir = mkdtempSync(path.join(tmpdir(), "seed-test-"));
    const file = path.join(dir, "config.yaml");
    const yaml = `
kafka: { brokers: "${e.brokers}", groupId: "${group}" }
target: { dialect: ${e.dialect}, url: "${e.shadowUrl}" }
tables:
  - topic: "${topic}"
    table: "${e.targetSchema}.${table}"
    columns: { exclude: [secret], rename: { note: remark } }
seed: { source: { url: "${prodUrl}" } }
deadLetter: { table: "${e.targetSchema}.shadowdb_dead_letters" }
http: { port: 0 }
log: { level: warn }
`;
    writeFileSync(file, yaml);
    let writing = true;
    let writes = 0;
    let nextId = 3001;
    // Inserts, updates (every kind of column), deletes and primary-key changes, one at a time.
    let writer: Promise<void> = Promise.resolve();
    const write = async () => {
      while (writing) {
        const pick = randomInt(10);
        const id = randomInt(1, nextId);
        if (pick < 3) await prod.query(`INSERT INTO ${table} VALUES ${side.rowValues(nextId++, 0)}`);
        else if (pick < 8) await prod.query(side.update(table, id, writes));
        else if (pick < 9) await prod.query(`DELETE FROM ${table} WHERE id = ${id}`);
        else await prod.query(`UPDATE ${table} SET id = ${nextId++} WHERE id = ${id}`);
        writes++;
      }
    };
    try {
      await prod.query(`CREATE TABLE ${table} (${side.columns})`);
      await side.prepare?.(prod, table);
      for (let from = 1; from <= 3000; from += 500) {
        const values = Array.from({ length: 500 }, (_, i) => side.rowValues(from + i, 1)).join(", ");
        await prod.query(`INSERT INTO ${table} VALUES ${values}`);
      }
      // The topic exists and holds records from before the seed: they are applied again after it.
      await waitForTopic(kafkaClient(e.brokers), topic);
      writer = write();

      const seeded = await cli("seed", "--config", file, "--format", "json");
      assert.equal(seeded.code, 0, seeded.stderr);
      const [report] = JSON.parse(seeded.stdout) as {
        outcome: string;
        rows: number;
        positions: { offset: string }[];
      }[];
      assert.equal(report?.outcome, "loaded");
      assert.ok(report.rows >= 2500, `seeded ${report.rows} rows`);
      assert.equal(report.positions.length, 1);
      const stored = await shadow.query(
        `SELECT ${side.offsetText} AS n FROM shadowdb_positions WHERE group_id = '${group}'`,
      );
      assert.deepEqual(
        stored.rows.map((r) => r.n),
        [report.positions[0]!.offset],
      );
      const shape = await shadow.query(side.shapeSql(table));
      assert.deepEqual(
        shape.rows.map((r) => r.name),
        side.shape,
      );
      side.checkShape?.(shape.rows);
      const writesAtSeed = writes;

      const running = await startMaterializer(yaml);
      try {
        await new Promise((r) => setTimeout(r, 3000));
        writing = false;
        await writer;
        assert.ok(
          writesAtSeed > 0 && writes > writesAtSeed,
          `writes: ${writesAtSeed} before the seed ended, ${writes} in all`,
        );
        const want = JSON.stringify((await prod.query(side.listing(table, "note"))).rows);
        await eventually(
          "the shadow equals production",
          async () => {
            const got = JSON.stringify((await shadow.query(side.listing(table, "remark"))).rows);
            return got === want ? true : `${got.length} vs ${want.length} characters`;
          },
          90_000,
          running,
        );
      } finally {
        await running.stop();
      }

      // Seeded once: a second seed leaves the table alone.
      const again = await cli("seed", "--config", file);
      assert.equal(again.code, 0, again.stderr);
      assert.match(again.stdout, /skipped \(positions for .* already stored/);
    } finally {
      writing = false;
      await writer.catch(() => undefined);
      await uninstallOverlays(e.dialect, e.shadowUrl, [{ schema: e.targetSchema, name: table }]);
      await prod.query(`DROP TABLE IF EXISTS ${table}`);
      await shadow.query(`DROP TABLE IF EXISTS ${table}`);
      await shadow.query(`DELETE FROM shadowdb_positions WHERE group_id = '${group}'`);
      await prod.end();
      await shadow.end();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test(`${side.name}: seed refuses, with its code and nothing written`, { timeout: 120_000 }, async () => {
    const e = await engineOf(side.name);
    const env = await services();
    const prodUrl = side.name === "postgres" ? env.SHADOWDB_PG_PROD_URL : env.SHADOWDB_MY_PROD_URL;
    const suffix = randomBytes(4).toString("hex");
    const table = `${side.prefix}r_${suffix}`;
    const group = `test-${side.prefix}r-${suffix}`;
    const topic = e.topic(table);
    const prod = await e.connectProd();
    const shadow = await e.connectShadow();
    const dir = mkdtempSync(path.join(tmpdir(), "seed-refuse-"));
    const config = (name: string, extra: { table?: string; source?: string } = {}) => {
      const file = path.join(dir, `${name}.yaml`);
      writeFileSync(
        file,
        `
kafka: { brokers: "${e.brokers}", groupId: "${group}" }
target: { dialect: ${e.dialect}, url: "${e.shadowUrl}" }
tables:
  - topic: "${topic}"
    table: "${e.targetSchema}.${table}"
${extra.table ?? ""}
seed: { source: { url: "${extra.source ?? prodUrl}" } }
http: { port: 0 }
log: { level: warn }
`,
      );
      return file;
    };
    const named = `${e.targetSchema}\\.${side.prefix}r_\\w+`;
    try {
      await prod.query(`CREATE TABLE ${table} (${side.emailColumns})`);
      await prod.query(side.fifty(table));
      await shadow.query(`CREATE TABLE ${table} (${side.emailColumns})`);
      await shadow.query(`INSERT INTO ${table} VALUES (1, 'shadow')`);

      const notEmpty = await cli("seed", "--config", config("plain"));
      assert.equal(notEmpty.code, 2);
      assert.match(notEmpty.stderr, new RegExp(`SEED_NOT_EMPTY: ${named} already has rows`));

      const masked = await cli(
        "seed",
        "--config",
        config("masked", { table: "    columns: { mask: { email: { strategy: redact } } }" }),
      );
      assert.equal(masked.code, 2);
      assert.match(masked.stderr, new RegExp(`SEED_UNSUPPORTED: ${named} masks email`));

      await side.refusals({ prod, shadow, table, suffix, config });

      // Nothing was written by any of them: the table is as the test left it, no positions.
      const { rows } = await shadow.query(`SELECT COUNT(*) AS n FROM ${table}`);
      assert.equal(Number(rows[0]!.n), 0, "no row of the refused loads stays");
      const { rows: positions } = await shadow.query(
        `SELECT COUNT(*) AS n FROM shadowdb_positions WHERE group_id = '${group}'`,
      );
      assert.equal(Number(positions[0]!.n), 0);
    } finally {
      await prod.query(`DROP TABLE IF EXISTS ${table}`);
      await side.cleanUp?.(prod, suffix);
      await shadow.query(`DROP TABLE IF EXISTS ${table}`);
      await prod.end();
      await shadow.end();
      rmSync(dir, { recursive: true, force: true });
    }
  });
}
