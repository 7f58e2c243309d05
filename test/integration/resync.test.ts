/**
 * `shadowdb resync --table` on the real stack, PostgreSQL and MariaDB, both paths: the shadow
 * drifts from production in ways no event carries (a row changed and a row added behind the apply
 * session's back, as a lost update or delete would leave them, and a column production backfilled
 * by DDL), the shadow owns one row, and `run` keeps applying. After resync every untouched row equals production, the stale key is gone, and
 * the owned row is still the shadow's, while the production copy holds production's version
 * (reset brings it back). A column production renames: schema following adds the new name
 * (untouched rows hold NULL there, as no event carries their values) and resync fills it.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, test } from "node:test";
import mysql from "mysql2/promise";
import pg from "pg";
import { cli } from "../support/cli.ts";
import { failedConnectors, restartFailedConnectors } from "../support/connector-health.ts";
import { services } from "../support/env.ts";
import { kafkaClient, waitForTopic } from "../support/kafka.ts";
import { eventually, startMaterializer } from "../support/materialize.ts";
import { uninstallOverlays } from "../support/overlay.ts";

const suffix = randomBytes(4).toString("hex");
let tables = 0;

interface Db {
  /** Rows as arrays of text. */
  query(sql: string): Promise<(string | null)[][]>;
  /** Runs statements as shadowdb's apply session does, so the overlay's triggers skip them. */
  behindTheOverlay(statements: string[]): Promise<void>;
  end(): Promise<void>;
}

function postgres(url: string): Db {
  const client = new pg.Client({ connectionString: url });
  const ready = client.connect();
  return {
    async query(sql) {
      await ready;
      return (await client.query({ text: sql, rowMode: "array" })).rows;
    },
    async behindTheOverlay(statements) {
      await ready;
      await client.query("BEGIN");
      await client.query("SET LOCAL session_replication_role = replica");
      for (const sql of statements) await client.query(sql);
      await client.query("COMMIT");
    },
    end: () => client.end(),
  };
}

function mariadb(url: string): Db {
  const conn = mysql.createConnection({ uri: url });
  return {
    async query(sql) {
      const [rows] = await (await conn).query({ sql, rowsAsArray: true });
      return Array.isArray(rows) ? (rows as (string | null)[][]) : [];
    },
    async behindTheOverlay(statements) {
      const c = await conn;
      await c.query("SET @shadowdb_apply = 1");
      for (const sql of statements) await c.query(sql);
      await c.query("SET @shadowdb_apply = NULL");
    },
    end: async () => (await conn).end(),
  };
}

const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  // A connector task Debezium killed must not fail the test files after this one.
  await restartFailedConnectors((await services()).SHADOWDB_CONNECT_URL);
});

/**
 * `shadowdb resync`, once more if a Debezium task died under it (test/support/connector-health.ts):
 * the second try asserts what the first would have. A failure with every connector running stands.
 */
async function resyncCli(connectUrl: string, ...args: string[]) {
  const first = await cli("resync", ...args);
  if (first.code === 0) return first;
  const crashed = await failedConnectors(connectUrl);
  if (crashed.length === 0) return first;
  const what = crashed.map(
    (c) => `${c.name}: ${c.trace.split("\n").find((l) => l.includes("Exception")) ?? "FAILED"}`,
  );
  console.log(`a Debezium task died (${what.join("; ")}): restarting it, resyncing again`);
  await restartFailedConnectors(connectUrl);
  return cli("resync", ...args);
}

const engines = [
  {
    name: "postgres",
    dialect: "postgres" as const,
    schema: { prod: "public", shadow: "public" },
    open: async () => {
      const env = await services();
      return {
        prefix: env.SHADOWDB_PG_TOPIC_PREFIX,
        prodUrl: env.SHADOWDB_PG_PROD_URL,
        shadowUrl: env.SHADOWDB_PG_SHADOW_URL,
        prod: postgres(env.SHADOWDB_PG_PROD_URL),
        shadow: postgres(env.SHADOWDB_PG_SHADOW_URL),
      };
    },
  },
  {
    name: "mariadb",
    dialect: "mysql" as const,
    schema: { prod: "prod", shadow: "shadow" },
    open: async () => {
      const env = await services();
      return {
        prefix: env.SHADOWDB_MY_TOPIC_PREFIX,
        prodUrl: env.SHADOWDB_MY_PROD_URL,
        shadowUrl: env.SHADOWDB_MY_SHADOW_URL,
        prod: mariadb(env.SHADOWDB_MY_PROD_URL),
        shadow: mariadb(env.SHADOWDB_MY_SHADOW_URL),
      };
    },
  },
];

const modes = [
  {
    name: "incremental snapshot",
    args: [] as string[],
    says: /5 rows read by Debezium's incremental snapshot/,
  },
  {
    name: "--direct",
    args: ["--direct"],
    says: /resynced directly from .*\(4 rows copied, 1 to the production copy of owned keys\)/,
  },
];

for (const engine of engines)
  for (const mode of modes) {
    test(`${engine.name}, ${mode.name}: resync corrects drift, a DDL backfill and lost deletes, the owned row stays the shadow's`, async () => {
      const env = await services();
      const { prefix, prodUrl, shadowUrl, prod, shadow } = await engine.open();
      const table = `he_rs_${suffix}_${++tables}`;
      const tick = `he_tick_${suffix}_${tables}`;
      const group = `he-resync-${engine.name}-${mode.args.length}-${suffix}`;
      const shadowTable = `${engine.schema.shadow}.${table}`;
      cleanups.push(async () => {
        await uninstallOverlays(engine.dialect, shadowUrl, [{ schema: engine.schema.shadow, name: table }]);
        for (const db of [prod, shadow]) await db.query(`DROP TABLE IF EXISTS ${table}`);
        await prod.query(`DROP TABLE IF EXISTS ${tick}`);
        await shadow.query(`DELETE FROM shadowdb_positions WHERE group_id = '${group}'`);
        await prod.end();
        await shadow.end();
      });
      for (const db of [prod, shadow])
        await db.query(`CREATE TABLE ${table} (id int PRIMARY KEY, v varchar(40))`);
      await prod.query(`CREATE TABLE ${tick} (id int PRIMARY KEY, n int)`);
      await prod.query(`INSERT INTO ${tick} VALUES (1, 0)`);
      await prod.query(
        `INSERT INTO ${table} VALUES (1, 'one'), (2, 'two'), (3, 'three'), (4, 'four'), (5, 'five')`,
      );
      const topic = `${prefix}.${engine.schema.prod}.${table}`;
      // Generous: the stack's connectors are shared, and another test's bulk load delays ours.
      await waitForTopic(kafkaClient(env.SHADOWDB_KAFKA_BROKERS), topic, 180_000);
      const yaml = `
kafka: { brokers: "${env.SHADOWDB_KAFKA_BROKERS}", groupId: "${group}" }
target: { dialect: ${engine.dialect}, url: "${shadowUrl}" }
tables: [ { topic: "${topic}", table: "${shadowTable}" } ]
deadLetter: { table: "${engine.schema.shadow}.shadowdb_dead_letters" }
http: { port: 0 }
`;
      const dir = await mkdtemp(path.join(tmpdir(), "he-resync-"));
      const configFile = path.join(dir, "config.yaml");
      await writeFile(configFile, yaml);
      const rows = (db: Db) => db.query(`SELECT id, v FROM ${table} ORDER BY id`);
      const withX = (db: Db) => db.query(`SELECT id, v, x FROM ${table} ORDER BY id`);
      const running = await startMaterializer(yaml);
      // Production commits now and then: on MariaDB a read-only snapshot's window closes only at
      // the next binlog transaction.
      let ticking = true;
      const ticker = (async () => {
        while (ticking) {
          await prod.query(`UPDATE ${tick} SET n = n + 1 WHERE id = 1`);
          await new Promise((r) => setTimeout(r, 300));
        }
      })();
      try {
        await eventually(
          "the shadow has production's rows",
          async () => {
            const got = JSON.stringify(await rows(shadow));
            return got === JSON.stringify(await rows(prod)) || got;
          },
          180_000,
          running,
        );
        // The shadow owns row 2; production then changes it (that goes to the copy).
        await shadow.query(`UPDATE ${table} SET v = 'mine' WHERE id = 2`);
        await prod.query(`UPDATE ${table} SET v = 'two, later' WHERE id = 2`);
        // Drift no event will correct: a changed value, a row production does not have.
        await shadow.behindTheOverlay([
          `UPDATE ${table} SET v = 'drifted' WHERE id = 3`,
          `INSERT INTO ${table} VALUES (99, 'stale')`,
        ]);
        await prod.query(`UPDATE ${table} SET v = 'four, later' WHERE id = 4`);
        // A backfill by DDL: production's rows get 7 and no event says so. The shadow runs the
        // same migration without the default (its rows get NULL), then refreshes the overlay's copy.
        await prod.query(`ALTER TABLE ${table} ADD COLUMN x int DEFAULT 7`);
        await shadow.query(`ALTER TABLE ${table} ADD COLUMN x int`);
        const install = await cli("overlay", "install", "--config", configFile, "--table", shadowTable);
        assert.equal(install.code, 0, install.stderr);
        const result = await resyncCli(
          env.SHADOWDB_CONNECT_URL,
          "--config",
          configFile,
          "--table",
          shadowTable,
          "--source-url",
          prodUrl,
          "--timeout",
          "120",
          ...mode.args,
        );
        assert.equal(result.code, 0, `resync failed: ${result.stderr}${result.stdout}`);
        assert.match(result.stdout, mode.says);
        assert.match(result.stdout, /1 row\(s\) production no longer has deleted, of 6 key\(s\) checked/);
        assert.deepEqual(
          (await withX(shadow)).map(([id, v, x]) => [String(id), v, x === null ? null : String(x)]),
          [
            ["1", "one", "7"],
            ["2", "mine", null],
            ["3", "three", "7"],
            ["4", "four, later", "7"],
            ["5", "five", "7"],
          ],
        );
        running.assertAlive();
        // The copy holds production's current version of the owned row: reset puts it back.
        const reset = await cli("reset", "--config", configFile, "--table", shadowTable);
        assert.equal(reset.code, 0, reset.stderr);
        const text = (r: (string | null)[]) => r.map((c) => (c === null ? null : String(c)));
        assert.deepEqual((await withX(shadow)).map(text), (await withX(prod)).map(text));
      } finally {
        ticking = false;
        await ticker;
        await running.stop();
      }
    });
  }

test("resync refuses a table no mapped topic writes, with a typed error", async () => {
  const env = await services();
  const dir = await mkdtemp(path.join(tmpdir(), "he-resync-"));
  const configFile = path.join(dir, "config.yaml");
  await writeFile(
    configFile,
    `
kafka: { brokers: "${env.SHADOWDB_KAFKA_BROKERS}", groupId: "he-resync-unmapped-${suffix}" }
target: { dialect: postgres, url: "${env.SHADOWDB_PG_SHADOW_URL}" }
tables: [ { topic: "${env.SHADOWDB_PG_TOPIC_PREFIX}.public.he_absent_${suffix}", table: "public.he_absent_${suffix}" } ]
http: { port: 0 }
`,
  );
  const result = await cli("resync", "--config", configFile, "--table", "public.he_other", "--no-sweep");
  assert.equal(result.code, 2);
  assert.match(result.stderr, /RESYNC_TABLE_UNMAPPED: no topic the config maps writes public\.he_other/);
});

for (const engine of engines)
  for (const mode of modes) {
    test(`${engine.name}, ${mode.name}, production writing throughout: every row ends at production's value`, async () => {
      const env = await services();
      const { prefix, prodUrl, shadowUrl, prod, shadow } = await engine.open();
      const writer = engine.name === "postgres" ? postgres(prodUrl) : mariadb(prodUrl);
      const table = `he_rc_${suffix}_${++tables}`;
      const group = `he-resync-busy-${engine.name}-${mode.args.length}-${suffix}`;
      const shadowTable = `${engine.schema.shadow}.${table}`;
      cleanups.push(async () => {
        await uninstallOverlays(engine.dialect, shadowUrl, [{ schema: engine.schema.shadow, name: table }]);
        for (const db of [prod, shadow]) await db.query(`DROP TABLE IF EXISTS ${table}`);
        await shadow.query(`DELETE FROM shadowdb_positions WHERE group_id = '${group}'`);
        for (const db of [prod, shadow, writer]) await db.end();
      });
      for (const db of [prod, shadow]) await db.query(`CREATE TABLE ${table} (id int PRIMARY KEY, n int)`);
      // 2,000 rows: four pages of --direct and of the sweep, two chunks of the snapshot.
      const values = Array.from({ length: 2000 }, (_, i) => `(${i + 1}, 0)`).join(", ");
      await prod.query(`INSERT INTO ${table} VALUES ${values}`);
      const topic = `${prefix}.${engine.schema.prod}.${table}`;
      await waitForTopic(kafkaClient(env.SHADOWDB_KAFKA_BROKERS), topic, 180_000);
      const yaml = `
kafka: { brokers: "${env.SHADOWDB_KAFKA_BROKERS}", groupId: "${group}" }
target: { dialect: ${engine.dialect}, url: "${shadowUrl}" }
tables: [ { topic: "${topic}", table: "${shadowTable}" } ]
deadLetter: { table: "${engine.schema.shadow}.shadowdb_dead_letters" }
http: { port: 0 }
`;
      const dir = await mkdtemp(path.join(tmpdir(), "he-resync-"));
      const configFile = path.join(dir, "config.yaml");
      await writeFile(configFile, yaml);
      const rows = async (db: Db) =>
        JSON.stringify((await db.query(`SELECT id, n FROM ${table} ORDER BY id`)).map((r) => r.map(String)));
      const running = await startMaterializer(yaml);
      try {
        const same = async () => {
          const [want, got] = [await rows(prod), await rows(shadow)];
          return want === got || `${got.length} characters of rows, production ${want.length}`;
        };
        await eventually("the shadow has production's rows", same, 180_000, running);
        // Drift on every seventh row, and keys production never had.
        await shadow.behindTheOverlay([
          `UPDATE ${table} SET n = -1 WHERE MOD(id, 7) = 0`,
          `INSERT INTO ${table} VALUES (5001, -1), (5002, -1)`,
        ]);
        // Production changes rows, adds and removes some, all through the resync.
        let writing = true;
        let writes = 0;
        const busy = (async () => {
          for (let i = 0; writing; i++) {
            const id = 1 + ((i * 7919) % 2000);
            await writer.query(`UPDATE ${table} SET n = n + 1 WHERE id = ${id}`);
            if (i % 10 === 0) await writer.query(`INSERT INTO ${table} VALUES (${3000 + i}, ${i})`);
            if (i % 10 === 5) await writer.query(`DELETE FROM ${table} WHERE id = ${3000 + i - 5}`);
            writes++;
          }
        })();
        const result = await resyncCli(
          env.SHADOWDB_CONNECT_URL,
          "--config",
          configFile,
          "--table",
          shadowTable,
          "--source-url",
          prodUrl,
          "--timeout",
          "120",
          ...mode.args,
        ).finally(() => {
          writing = false;
        });
        await busy;
        assert.equal(result.code, 0, `resync failed: ${result.stderr}${result.stdout}`);
        assert.ok(writes > 20, `only ${writes} production writes during the resync`);
        await eventually("the shadow equals production again", same, 180_000, running);
      } finally {
        await running.stop();
      }
    });
  }

for (const engine of engines)
  test(`${engine.name}: production renames a column; the shadow gains the new name, and resync fills it`, async () => {
    const env = await services();
    const { prefix, shadowUrl, prod, shadow } = await engine.open();
    const table = `he_rn_${suffix}_${++tables}`;
    const tick = `he_tick_${suffix}_${tables}`;
    const group = `he-resync-rename-${engine.name}-${suffix}`;
    const shadowTable = `${engine.schema.shadow}.${table}`;
    cleanups.push(async () => {
      await uninstallOverlays(engine.dialect, shadowUrl, [{ schema: engine.schema.shadow, name: table }]);
      for (const db of [prod, shadow]) await db.query(`DROP TABLE IF EXISTS ${table}`);
      await prod.query(`DROP TABLE IF EXISTS ${tick}`);
      await shadow.query(`DELETE FROM shadowdb_positions WHERE group_id = '${group}'`);
      await prod.end();
      await shadow.end();
    });
    for (const db of [prod, shadow])
      await db.query(`CREATE TABLE ${table} (id int PRIMARY KEY, r varchar(40))`);
    await prod.query(`CREATE TABLE ${tick} (id int PRIMARY KEY, n int)`);
    await prod.query(`INSERT INTO ${tick} VALUES (1, 0)`);
    await prod.query(`INSERT INTO ${table} VALUES (1, 'one'), (2, 'two'), (3, 'three'), (4, 'four')`);
    const topic = `${prefix}.${engine.schema.prod}.${table}`;
    await waitForTopic(kafkaClient(env.SHADOWDB_KAFKA_BROKERS), topic, 180_000);
    const yaml = `
kafka: { brokers: "${env.SHADOWDB_KAFKA_BROKERS}", groupId: "${group}" }
target: { dialect: ${engine.dialect}, url: "${shadowUrl}" }
tables: [ { topic: "${topic}", table: "${shadowTable}" } ]
deadLetter: { table: "${engine.schema.shadow}.shadowdb_dead_letters" }
http: { port: 0 }
`;
    const dir = await mkdtemp(path.join(tmpdir(), "he-resync-"));
    const configFile = path.join(dir, "config.yaml");
    await writeFile(configFile, yaml);
    const renamed = (db: Db) => db.query(`SELECT id, r2 FROM ${table} ORDER BY id`);
    const running = await startMaterializer(yaml);
    let ticking = true;
    const ticker = (async () => {
      while (ticking) {
        await prod.query(`UPDATE ${tick} SET n = n + 1 WHERE id = 1`);
        await new Promise((r) => setTimeout(r, 300));
      }
    })();
    try {
      await eventually(
        "the shadow has production's rows",
        async () => {
          const got = (await shadow.query(`SELECT count(*) FROM ${table}`))[0]![0];
          return String(got) === "4" || `${got} rows`;
        },
        180_000,
        running,
      );
      // The shadow does not run this migration: only the next event tells it of r2.
      await prod.query(`ALTER TABLE ${table} RENAME COLUMN r TO r2`);
      await prod.query(`UPDATE ${table} SET r2 = 'one, later' WHERE id = 1`);
      await eventually(
        "schema following adds r2 and applies the update",
        async () => {
          const got = await renamed(shadow).catch((error: unknown) => String(error));
          if (typeof got === "string") return got;
          const rows = JSON.stringify(got.map((r) => r.map((c) => (c === null ? null : String(c)))));
          const want = [
            ["1", "one, later"],
            ["2", null],
            ["3", null],
            ["4", null],
          ];
          return rows === JSON.stringify(want) || rows;
        },
        120_000,
        running,
      );
      const result = await resyncCli(
        env.SHADOWDB_CONNECT_URL,
        "--config",
        configFile,
        "--table",
        shadowTable,
        "--no-sweep",
        "--timeout",
        "120",
      );
      assert.equal(result.code, 0, `resync failed: ${result.stderr}${result.stdout}`);
      const text = (r: (string | null)[]) => r.map((c) => (c === null ? null : String(c)));
      assert.deepEqual((await renamed(shadow)).map(text), (await renamed(prod)).map(text));
      // The old name stays: the shadow's own migrations own its schema.
      assert.deepEqual((await shadow.query(`SELECT r FROM ${table} ORDER BY id`)).map(text), [
        ["one"],
        ["two"],
        ["three"],
        ["four"],
      ]);
      running.assertAlive();
    } finally {
      ticking = false;
      await ticker;
      await running.stop();
    }
  });
