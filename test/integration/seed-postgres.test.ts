/**
 * `shadowdb seed` against the real stack: production keeps writing while the seed copies it and
 * while `run` goes on from the seed's positions, and the shadow ends equal to production, value
 * for value, through a rename and an exclusion. Then what the seed refuses, each with its code
 * and nothing written.
 */
import assert from "node:assert/strict";
import { randomBytes, randomInt } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { test } from "node:test";
import { cli } from "../support/cli.ts";
import { connectPostgres } from "../support/engines.ts";
import { services } from "../support/env.ts";
import { kafkaClient, waitForTopic } from "../support/kafka.ts";
import { eventually, startMaterializer } from "../support/materialize.ts";
import { uninstallOverlays } from "../support/overlay.ts";

const columns = `id bigint PRIMARY KEY, amount numeric(14,4), at timestamptz, doc jsonb, raw bytea,
  tags text[], note text, secret text, ref uuid`;

/** A row of every kind of value, with text that COPY must escape (tab, newline, backslash). */
const rowValues = (id: number, version: number) =>
  `(${id}, ${randomInt(1_000_000)}.${randomInt(10_000)}, now() - interval '${randomInt(1000)} seconds',
    '{"v": ${version}, "s": "a\\tb"}', decode('00ff${(version % 256).toString(16).padStart(2, "0")}', 'hex'),
    ARRAY['x', 'y\\z', NULL], ${id % 7 === 0 ? "NULL" : `E'line\\n${version}\\ttab\\\\'`}, 'pw${id}',
    gen_random_uuid())`;

test("postgres: seed while production writes, then run: the shadow equals production", {
  timeout: 240_000,
}, async () => {
  const env = await services();
  const suffix = randomBytes(4).toString("hex");
  const table = `sd_${suffix}`;
  const group = `test-sd-${suffix}`;
  const topic = `${env.SHADOWDB_PG_TOPIC_PREFIX}.public.${table}`;
  const prod = await connectPostgres(env.SHADOWDB_PG_PROD_URL);
  const shadow = await connectPostgres(env.SHADOWDB_PG_SHADOW_URL);
  const dir = mkdtempSync(path.join(tmpdir(), "seed-test-"));
  const file = path.join(dir, "config.yaml");
  const yaml = `
kafka: { brokers: "${env.SHADOWDB_KAFKA_BROKERS}", groupId: "${group}" }
target: { dialect: postgres, url: "${env.SHADOWDB_PG_SHADOW_URL}" }
tables:
  - topic: "${topic}"
    table: "public.${table}"
    columns: { exclude: [secret], rename: { note: remark } }
seed: { source: { url: "${env.SHADOWDB_PG_PROD_URL}" } }
deadLetter: { table: "public.shadowdb_dead_letters" }
http: { port: 0 }
log: { level: warn }
`;
  writeFileSync(file, yaml);
  let writing = true;
  let writes = 0;
  let nextId = 3001;
  // Inserts, updates (every column), deletes and primary-key changes, one statement at a time.
  let writer: Promise<void> = Promise.resolve();
  const write = async () => {
    while (writing) {
      const pick = randomInt(10);
      const id = randomInt(1, nextId);
      if (pick < 3) await prod.query(`INSERT INTO ${table} VALUES ${rowValues(nextId++, 0)}`);
      else if (pick < 8)
        await prod.query(
          `UPDATE ${table} SET amount = amount + 1, doc = jsonb_set(doc, '{v}', to_jsonb(${writes})), note = note || 'u', at = now() WHERE id = ${id}`,
        );
      else if (pick < 9) await prod.query(`DELETE FROM ${table} WHERE id = ${id}`);
      else await prod.query(`UPDATE ${table} SET id = ${nextId++} WHERE id = ${id}`);
      writes++;
    }
  };
  try {
    await prod.query(`CREATE TABLE ${table} (${columns})`);
    await prod.query(`ALTER TABLE ${table} REPLICA IDENTITY FULL`);
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
      "SELECT next_offset::text AS n FROM shadowdb_positions WHERE group_id = $1",
      [group],
    );
    assert.deepEqual(
      stored.rows.map((r) => r.n),
      [report.positions[0]!.offset],
    );
    const { rows: shape } = await shadow.query(
      `SELECT column_name FROM information_schema.columns WHERE table_name = $1 ORDER BY ordinal_position`,
      [table],
    );
    assert.deepEqual(
      shape.map((r) => r.column_name),
      ["id", "amount", "at", "doc", "raw", "tags", "remark", "ref"],
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
      const listing = `SELECT id, amount::text, at::text, doc::text, encode(raw, 'hex') AS raw, tags::text, %s AS note, ref::text
        FROM ${table} ORDER BY id`;
      const want = JSON.stringify((await prod.query(listing.replace("%s", "note"))).rows);
      await eventually(
        "the shadow equals production",
        async () => {
          const got = JSON.stringify((await shadow.query(listing.replace("%s", "remark"))).rows);
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
    await uninstallOverlays("postgres", env.SHADOWDB_PG_SHADOW_URL, [{ schema: "public", name: table }]);
    await prod.query(`DROP TABLE IF EXISTS ${table}`);
    await shadow.query(`DROP TABLE IF EXISTS ${table}`);
    await shadow.query("DELETE FROM shadowdb_positions WHERE group_id = $1", [group]);
    await prod.end();
    await shadow.end();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("postgres: seed refuses, with its code and nothing written", { timeout: 120_000 }, async () => {
  const env = await services();
  const suffix = randomBytes(4).toString("hex");
  const table = `sdr_${suffix}`;
  const group = `test-sdr-${suffix}`;
  const noSlot = `sdr_noslot_${suffix}`;
  const topic = `${env.SHADOWDB_PG_TOPIC_PREFIX}.public.${table}`;
  const prod = await connectPostgres(env.SHADOWDB_PG_PROD_URL);
  const shadow = await connectPostgres(env.SHADOWDB_PG_SHADOW_URL);
  const dir = mkdtempSync(path.join(tmpdir(), "seed-refuse-"));
  const config = (name: string, extra: { table?: string; source?: string } = {}) => {
    const file = path.join(dir, `${name}.yaml`);
    writeFileSync(
      file,
      `
kafka: { brokers: "${env.SHADOWDB_KAFKA_BROKERS}", groupId: "${group}" }
target: { dialect: postgres, url: "${env.SHADOWDB_PG_SHADOW_URL}" }
tables:
  - topic: "${topic}"
    table: "public.${table}"
${extra.table ?? ""}
seed: { source: { url: "${extra.source ?? env.SHADOWDB_PG_PROD_URL}" } }
http: { port: 0 }
log: { level: warn }
`,
    );
    return file;
  };
  const prodUrl = new URL(env.SHADOWDB_PG_PROD_URL);
  try {
    await prod.query(`CREATE TABLE ${table} (id int PRIMARY KEY, email text)`);
    await prod.query(
      `INSERT INTO ${table} SELECT g, 'u' || g || '@example.com' FROM generate_series(1, 50) g`,
    );
    await shadow.query(`CREATE TABLE ${table} (id int PRIMARY KEY, email text)`);
    await shadow.query(`INSERT INTO ${table} VALUES (1, 'shadow')`);

    const notEmpty = await cli("seed", "--config", config("plain"));
    assert.equal(notEmpty.code, 2);
    assert.match(notEmpty.stderr, /SEED_NOT_EMPTY: public\.sdr_\w+ already has rows/);

    const masked = await cli(
      "seed",
      "--config",
      config("masked", { table: "    columns: { mask: { email: { strategy: redact } } }" }),
    );
    assert.equal(masked.code, 2);
    assert.match(masked.stderr, /SEED_UNSUPPORTED: public\.sdr_\w+ masks email/);

    await prod.query(`CREATE DATABASE ${noSlot}`);
    prodUrl.pathname = `/${noSlot}`;
    await shadow.query(`DELETE FROM ${table}`);
    const slotless = await cli("seed", "--config", config("noslot", { source: prodUrl.href }));
    assert.equal(slotless.code, 2);
    assert.match(slotless.stderr, /SEED_NO_CAPTURE: database sdr_noslot_\w+ has no logical replication slot/);

    // Nothing was written by any of them: the table is as the test left it, no positions.
    const { rows } = await shadow.query(`SELECT count(*)::int AS n FROM ${table}`);
    assert.equal(rows[0]!.n, 0);
    const { rows: positions } = await shadow.query(
      "SELECT count(*)::int AS n FROM shadowdb_positions WHERE group_id = $1",
      [group],
    );
    assert.equal(positions[0]!.n, 0);
  } finally {
    await prod.query(`DROP TABLE IF EXISTS ${table}`);
    await prod.query(`DROP DATABASE IF EXISTS ${noSlot}`);
    await shadow.query(`DROP TABLE IF EXISTS ${table}`);
    await prod.end();
    await shadow.end();
    rmSync(dir, { recursive: true, force: true });
  }
});
