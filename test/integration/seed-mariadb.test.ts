/**
 * `shadowdb seed` on MariaDB against the real stack: production keeps writing while the seed
 * loads it (LOAD DATA LOCAL from one consistent snapshot) and while `run` goes on from the seed's
 * positions, and the shadow ends equal to production, value for value, through a rename and an
 * exclusion, with values whose text is not their value (bytes, BIT, FLOAT, spatial, latin1).
 * Then what it refuses, each with its code and nothing written.
 */
import assert from "node:assert/strict";
import { randomBytes, randomInt } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { test } from "node:test";
import { cli } from "../support/cli.ts";
import { connectMariadb } from "../support/engines.ts";
import { services } from "../support/env.ts";
import { kafkaClient, waitForTopic } from "../support/kafka.ts";
import { eventually, startMaterializer } from "../support/materialize.ts";
import { uninstallOverlays } from "../support/overlay.ts";

const columns = `id bigint PRIMARY KEY, amount decimal(30,10), f float, at datetime(6), ts timestamp(3) NULL,
  doc text, raw varbinary(16), flags bit(5), place point, label varchar(40) CHARACTER SET latin1,
  note text, secret text`;

/** A row of every kind of value, with text LOAD DATA must escape (tab, newline, backslash). */
const rowValues = (id: number, version: number) =>
  `(${id}, ${randomInt(1_000_000)}.${randomInt(10_000)}, ${randomInt(1000) / 7}e0,
    now(6) - INTERVAL ${randomInt(1000)} SECOND, now(3), '{"v": ${version}, "s": "a\\\\tb"}',
    UNHEX('00FF${(version % 256).toString(16).padStart(2, "0")}5C4E'), b'${(id % 32).toString(2)}',
    ST_GeomFromText('POINT(${id / 4} -${version})'), 'caf\u00e9 ${id}',
    ${id % 7 === 0 ? "NULL" : `'line\\n${version}\\ttab\\\\'`}, 'pw${id}')`;

/** Every column as text that compares exactly (bytes and spatial as hex, BIT and FLOAT as numbers). */
const listing = (table: string, note: string) =>
  `SELECT id, CAST(amount AS CHAR) AS amount, f * 1 AS f, CAST(at AS CHAR) AS at, CAST(ts AS CHAR) AS ts,
     doc, HEX(raw) AS raw, flags + 0 AS flags, HEX(place) AS place, HEX(label) AS label, ${note} AS note
     FROM ${table} ORDER BY id`;

test("mariadb: seed while production writes, then run: the shadow equals production", {
  timeout: 240_000,
}, async () => {
  const env = await services();
  const suffix = randomBytes(4).toString("hex");
  const table = `sdm_${suffix}`;
  const group = `test-sdm-${suffix}`;
  const topic = `${env.SHADOWDB_MY_TOPIC_PREFIX}.prod.${table}`;
  const prod = await connectMariadb(env.SHADOWDB_MY_PROD_URL);
  const shadow = await connectMariadb(env.SHADOWDB_MY_SHADOW_URL);
  const dir = mkdtempSync(path.join(tmpdir(), "seed-test-"));
  const file = path.join(dir, "config.yaml");
  const yaml = `
kafka: { brokers: "${env.SHADOWDB_KAFKA_BROKERS}", groupId: "${group}" }
target: { dialect: mysql, url: "${env.SHADOWDB_MY_SHADOW_URL}" }
tables:
  - topic: "${topic}"
    table: "shadow.${table}"
    columns: { exclude: [secret], rename: { note: remark } }
seed: { source: { url: "${env.SHADOWDB_MY_PROD_URL}" } }
deadLetter: { table: "shadow.shadowdb_dead_letters" }
http: { port: 0 }
log: { level: warn }
`;
  writeFileSync(file, yaml);
  let writing = true;
  let writes = 0;
  let nextId = 3001;
  let writer: Promise<void> = Promise.resolve();
  // Inserts, updates (every kind of column), deletes and primary-key changes, one at a time.
  const write = async () => {
    while (writing) {
      const pick = randomInt(10);
      const id = randomInt(1, nextId);
      if (pick < 3) await prod.query(`INSERT INTO ${table} VALUES ${rowValues(nextId++, 0)}`);
      else if (pick < 8)
        await prod.query(
          `UPDATE ${table} SET amount = amount + 1, f = f * 2, doc = CONCAT(doc, '\\t${writes}'),
             raw = UNHEX('${(writes % 256).toString(16).padStart(2, "0")}'), flags = b'11111',
             note = CONCAT(COALESCE(note, ''), 'u'), at = now(6) WHERE id = ${id}`,
        );
      else if (pick < 9) await prod.query(`DELETE FROM ${table} WHERE id = ${id}`);
      else await prod.query(`UPDATE ${table} SET id = ${nextId++} WHERE id = ${id}`);
      writes++;
    }
  };
  try {
    await prod.query(`CREATE TABLE ${table} (${columns})`);
    for (let from = 1; from <= 3000; from += 500) {
      const values = Array.from({ length: 500 }, (_, i) => rowValues(from + i, 1)).join(", ");
      await prod.query(`INSERT INTO ${table} VALUES ${values}`);
    }
    // The topic exists and holds records from before the seed: they are applied again after it.
    await waitForTopic(kafkaClient(env.SHADOWDB_KAFKA_BROKERS), topic);
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
      "SELECT CAST(next_offset AS CHAR) AS n FROM shadowdb_positions WHERE group_id = ?",
      [group],
    );
    assert.deepEqual(
      stored.rows.map((r) => r.n),
      [report.positions[0]!.offset],
    );
    const shape = await shadow.query(
      `SELECT COLUMN_NAME AS name, CHARACTER_SET_NAME AS charset FROM information_schema.COLUMNS
        WHERE TABLE_SCHEMA = 'shadow' AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION`,
      [table],
    );
    assert.deepEqual(
      shape.rows.map((r) => r.name),
      ["id", "amount", "f", "at", "ts", "doc", "raw", "flags", "place", "label", "remark"],
    );
    assert.equal(
      shape.rows.find((r) => r.name === "label")?.charset,
      "latin1",
      "the column's character set is kept",
    );
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
      const want = JSON.stringify((await prod.query(listing(table, "note"))).rows);
      await eventually(
        "the shadow equals production",
        async () => {
          const got = JSON.stringify((await shadow.query(listing(table, "remark"))).rows);
          return got === want ? true : `${got.length} vs ${want.length} characters`;
        },
        90_000,
        running,
      );
    } finally {
      await running.stop();
    }

    const again = await cli("seed", "--config", file);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /skipped \(positions for .* already stored/);
  } finally {
    writing = false;
    await writer.catch(() => undefined);
    await uninstallOverlays("mysql", env.SHADOWDB_MY_SHADOW_URL, [{ schema: "shadow", name: table }]);
    await prod.query(`DROP TABLE IF EXISTS ${table}`);
    await shadow.query(`DROP TABLE IF EXISTS ${table}`);
    await shadow.query("DELETE FROM shadowdb_positions WHERE group_id = ?", [group]);
    await prod.end();
    await shadow.end();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("mariadb: seed refuses, with its code and nothing written", { timeout: 120_000 }, async () => {
  const env = await services();
  const suffix = randomBytes(4).toString("hex");
  const table = `sdmr_${suffix}`;
  const group = `test-sdmr-${suffix}`;
  const topic = `${env.SHADOWDB_MY_TOPIC_PREFIX}.prod.${table}`;
  const prod = await connectMariadb(env.SHADOWDB_MY_PROD_URL);
  const shadow = await connectMariadb(env.SHADOWDB_MY_SHADOW_URL);
  const dir = mkdtempSync(path.join(tmpdir(), "seed-refuse-"));
  const file = path.join(dir, "config.yaml");
  writeFileSync(
    file,
    `
kafka: { brokers: "${env.SHADOWDB_KAFKA_BROKERS}", groupId: "${group}" }
target: { dialect: mysql, url: "${env.SHADOWDB_MY_SHADOW_URL}" }
tables: [ { topic: "${topic}", table: "shadow.${table}" } ]
seed: { source: { url: "${env.SHADOWDB_MY_PROD_URL}" } }
http: { port: 0 }
log: { level: warn }
`,
  );
  const positions = async () =>
    (await shadow.query("SELECT COUNT(*) AS n FROM shadowdb_positions WHERE group_id = ?", [group])).rows[0]!
      .n;
  try {
    await prod.query(`CREATE TABLE ${table} (id int PRIMARY KEY, email varchar(40))`);
    await prod.query(`INSERT INTO ${table} SELECT seq, CONCAT('user', seq, '@example.com') FROM seq_1_to_50`);
    await shadow.query(`CREATE TABLE ${table} (id int PRIMARY KEY, email varchar(40))`);
    await shadow.query(`INSERT INTO ${table} VALUES (1, 'shadow')`);
    const notEmpty = await cli("seed", "--config", file);
    assert.equal(notEmpty.code, 2);
    assert.match(notEmpty.stderr, /SEED_NOT_EMPTY: shadow\.sdmr_\w+ already has rows/);

    // A value the target column cannot hold: LOAD DATA LOCAL would load the rest with a warning.
    await shadow.query(`DROP TABLE ${table}`);
    await shadow.query(`CREATE TABLE ${table} (id int PRIMARY KEY, email varchar(8))`);
    const narrow = await cli("seed", "--config", file);
    assert.equal(narrow.code, 2);
    assert.match(
      narrow.stderr,
      /TARGET_DATA: shadow\.sdmr_\w+: LOAD DATA reported \d+ warnings \(1265: Data truncated/,
    );

    const { rows } = await shadow.query(`SELECT COUNT(*) AS n FROM ${table}`);
    assert.equal(Number(rows[0]!.n), 0, "no row of the refused load stays");
    assert.equal(Number(await positions()), 0);
  } finally {
    await prod.query(`DROP TABLE IF EXISTS ${table}`);
    await shadow.query(`DROP TABLE IF EXISTS ${table}`);
    await prod.end();
    await shadow.end();
    rmSync(dir, { recursive: true, force: true });
  }
});
