/**
 * The every-type materializer scenario (test/support/materialize-suite.ts) on PostgreSQL → Debezium
 * → Kafka → shadowdb → PostgreSQL, with a TOASTed update on top; cells compared as PostgreSQL
 * renders them (::text).
 */
import { randomBytes } from "node:crypto";
import pg from "pg";
import { postgresAllTypes } from "../fixtures/alltypes.ts";
import { services } from "../support/env.ts";
import { type Cells, everyTypeSuite } from "../support/materialize-suite.ts";

const suffix = randomBytes(4).toString("hex");
const table = `mt_all_${suffix}`;
const mood = `mt_mood_${suffix}`;
// Values Debezium itself cannot carry (see test/fixtures/README.md): NaN numerics, dates before
// the 1582 calendar switch, XML declarations, money beyond a double's precision, infinite dates,
// and a timetz's own offset (Debezium sends the UTC time of day).
const upstreamLoss = /NaN|BC|0001-01-01|<\?xml|92233720368547758|1e-20|infinity|'00000000'/i;
const columns = postgresAllTypes.columns.map((c) => ({
  name: c.name,
  type: c.type.replaceAll("fx_mood", mood),
  values: c.values.filter((v) => !upstreamLoss.test(v) && (c.type !== "timetz" || /\+00'$/.test(v))),
}));
const names = ["id", ...columns.map((c) => c.name), "c_big"];

let prod: pg.Client;
let shadow: pg.Client;

async function setUp(client: pg.Client) {
  await client.query("CREATE EXTENSION IF NOT EXISTS hstore");
  await client.query("CREATE EXTENSION IF NOT EXISTS ltree");
  await client.query(`CREATE TYPE ${mood} AS ENUM ('sad', 'ok', 'happy', 'très bien')`);
  // The recommended path: the shadow runs the application's migrations, so both tables are alike.
  const defs = columns.map((c) => `${c.name} ${c.type}`).join(", ");
  await client.query(`CREATE TABLE ${table} (id int PRIMARY KEY, ${defs}, c_big text)`);
}

everyTypeSuite({
  name: "postgres",
  table,
  suffix,
  columns,
  names,
  toasted: "c_big",
  async setUp() {
    const env = await services();
    prod = new pg.Client({ connectionString: env.SHADOWDB_PG_PROD_URL });
    shadow = new pg.Client({ connectionString: env.SHADOWDB_PG_SHADOW_URL });
    await prod.connect();
    await shadow.connect();
    for (const c of [prod, shadow]) await c.query("SET TimeZone = 'UTC'");
    await setUp(prod);
    await setUp(shadow);
  },
  async prod(sql) {
    await prod.query(sql);
  },
  async rows(side) {
    const { rows } = await (side === "prod" ? prod : shadow).query({
      text: `SELECT ${names.map((c) => `${c}::text`).join(", ")} FROM ${table} ORDER BY ${table}.id`,
      rowMode: "array",
    });
    return rows as Cells;
  },
  shadowRows: async (sql) => (await shadow.query(sql)).rows,
  async drop() {
    for (const c of [prod, shadow]) {
      await c?.query(`DROP TABLE IF EXISTS ${table}`);
      await c?.query(`DROP TYPE IF EXISTS ${mood}`);
    }
  },
  async tearDown() {
    for (const c of [prod, shadow]) await c?.end();
  },
});
