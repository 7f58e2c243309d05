/**
 * The seed scenarios (test/support/seed-suite.ts) on PostgreSQL: COPY from one exported snapshot,
 * values of PostgreSQL's own types (jsonb, bytea, arrays, uuid), and the refusal of a database
 * without a logical replication slot.
 */
import assert from "node:assert/strict";
import { randomInt } from "node:crypto";
import { cli } from "../support/cli.ts";
import { services } from "../support/env.ts";
import { seedSuite } from "../support/seed-suite.ts";

const noSlot = (suffix: string) => `sdr_noslot_${suffix}`;

seedSuite({
  name: "postgres",
  prefix: "sd",
  columns: `id bigint PRIMARY KEY, amount numeric(14,4), at timestamptz, doc jsonb, raw bytea,
  tags text[], note text, secret text, ref uuid`,
  rowValues: (id, version) =>
    `(${id}, ${randomInt(1_000_000)}.${randomInt(10_000)}, now() - interval '${randomInt(1000)} seconds',
    '{"v": ${version}, "s": "a\\tb"}', decode('00ff${(version % 256).toString(16).padStart(2, "0")}', 'hex'),
    ARRAY['x', 'y\\z', NULL], ${id % 7 === 0 ? "NULL" : `E'line\\n${version}\\ttab\\\\'`}, 'pw${id}',
    gen_random_uuid())`,
  update: (table, id, writes) =>
    `UPDATE ${table} SET amount = amount + 1, doc = jsonb_set(doc, '{v}', to_jsonb(${writes})), note = note || 'u', at = now() WHERE id = ${id}`,
  async prepare(prod, table) {
    await prod.query(`ALTER TABLE ${table} REPLICA IDENTITY FULL`);
  },
  offsetText: "next_offset::text",
  shapeSql: (table) =>
    `SELECT column_name AS name FROM information_schema.columns WHERE table_name = '${table}' ORDER BY ordinal_position`,
  shape: ["id", "amount", "at", "doc", "raw", "tags", "remark", "ref"],
  listing: (table, note) =>
    `SELECT id, amount::text, at::text, doc::text, encode(raw, 'hex') AS raw, tags::text, ${note} AS note, ref::text
        FROM ${table} ORDER BY id`,
  emailColumns: "id int PRIMARY KEY, email text",
  fifty: (table) => `INSERT INTO ${table} SELECT g, 'u' || g || '@example.com' FROM generate_series(1, 50) g`,
  async refusals({ prod, shadow, table, suffix, config }) {
    const prodUrl = new URL((await services()).SHADOWDB_PG_PROD_URL);
    await prod.query(`CREATE DATABASE ${noSlot(suffix)}`);
    prodUrl.pathname = `/${noSlot(suffix)}`;
    await shadow.query(`DELETE FROM ${table}`);
    const slotless = await cli("seed", "--config", config("noslot", { source: prodUrl.href }));
    assert.equal(slotless.code, 2);
    assert.match(slotless.stderr, /SEED_NO_CAPTURE: database sdr_noslot_\w+ has no logical replication slot/);
  },
  async cleanUp(prod, suffix) {
    await prod.query(`DROP DATABASE IF EXISTS ${noSlot(suffix)}`);
  },
});
