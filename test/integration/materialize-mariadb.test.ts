/**
 * The every-type materializer scenario (test/support/materialize-suite.ts) on MariaDB → Debezium →
 * Kafka → shadowdb → MariaDB; cells compared as MariaDB renders them (see mariadbText).
 */
import { randomBytes } from "node:crypto";
import mysql from "mysql2/promise";
import { mariadbAllTypes } from "../fixtures/alltypes.ts";
import { mariadbText } from "../fixtures/harness.ts";
import { services } from "../support/env.ts";
import { type Cells, everyTypeSuite } from "../support/materialize-suite.ts";

const suffix = randomBytes(4).toString("hex");
const table = `mt_all_${suffix}`;
// Zero dates cannot cross Debezium (they arrive as null; see test/fixtures/README.md).
const upstreamLoss = /0000-00-00/;
const columns = mariadbAllTypes.columns.map((c) => ({
  ...c,
  values: c.values.filter((v) => !upstreamLoss.test(v)),
}));
const names = ["id", ...columns.map((c) => c.name)];

let prod: mysql.Connection;
let shadow: mysql.Connection;

const connect = (uri: string) =>
  mysql.createConnection({ uri, dateStrings: true, supportBigNumbers: true, bigNumberStrings: true });

everyTypeSuite({
  name: "mariadb",
  table,
  suffix,
  columns,
  names,
  async setUp() {
    const env = await services();
    prod = await connect(env.SHADOWDB_MY_PROD_URL);
    shadow = await connect(env.SHADOWDB_MY_SHADOW_URL);
    const defs = columns.map((c) => `${c.name} ${c.type} ${c.options ?? ""}`).join(", ");
    for (const c of [prod, shadow]) {
      await c.query("SET time_zone = '+00:00'");
      // The recommended path: the shadow runs the application's migrations, so both tables are alike.
      await c.query(
        `CREATE TABLE ${table} (id int PRIMARY KEY, ${defs}) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
      );
    }
  },
  async prod(sql) {
    await prod.query(sql);
  },
  async rows(side) {
    const list = names.map((n) => mariadbText(n, columns.find((c) => c.name === n)?.type ?? "INT"));
    const [result] = await (side === "prod" ? prod : shadow).query({
      sql: `SELECT ${list.join(", ")} FROM ${table} ORDER BY ${table}.id`,
      rowsAsArray: true,
    });
    return result as Cells;
  },
  shadowRows: async (sql) => {
    const [result] = await shadow.query(sql);
    return Array.isArray(result) ? (result as Record<string, unknown>[]) : [];
  },
  async drop() {
    for (const c of [prod, shadow]) await c?.query(`DROP TABLE IF EXISTS ${table}`);
  },
  async tearDown() {
    for (const c of [prod, shadow]) await c?.end();
  },
});
