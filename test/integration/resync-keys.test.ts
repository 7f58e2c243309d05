/**
 * The dialects' resync key readers on the real databases: pages follow the key's own order, not
 * its text's (ids 1…12 read 5 at a time: as text, "10" sorts before "2" and a page would skip
 * rows), and `present` answers by the column's type ("03" is the key 3).
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { test } from "node:test";
import mysql from "mysql2/promise";
import pg from "pg";
import type { TableShape } from "../../src/target/dialect.ts";
import { loadDialect } from "../../src/target/load.ts";
import { services } from "../support/env.ts";

const suffix = randomBytes(4).toString("hex");

async function run(engine: "postgres" | "mysql", url: string, statements: string[]): Promise<void> {
  if (engine === "postgres") {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    for (const sql of statements) await client.query(sql);
    await client.end();
  } else {
    const conn = await mysql.createConnection({ uri: url });
    for (const sql of statements) await conn.query(sql);
    await conn.end();
  }
}

for (const engine of ["postgres", "mysql"] as const) {
  test(`${engine}: keys and rows page in key order; present compares by the column's type`, async () => {
    const env = await services();
    const url = engine === "postgres" ? env.SHADOWDB_PG_SHADOW_URL : env.SHADOWDB_MY_SHADOW_URL;
    const schema = engine === "postgres" ? "public" : "shadow";
    const name = `he_keys_${suffix}`;
    const values = Array.from({ length: 12 }, (_, i) => `(${i + 1}, 'v${i + 1}')`).join(", ");
    await run(engine, url, [
      `CREATE TABLE ${schema}.${name} (id int PRIMARY KEY, v varchar(10))`,
      `INSERT INTO ${schema}.${name} VALUES ${values}`,
    ]);
    const reader = new (await loadDialect(engine)).KeyReader(url);
    try {
      const table = (await reader.describe({ schema, name })) as TableShape;
      const keys: string[] = [];
      for (let after: string[] | undefined; ; ) {
        const page = await reader.keys(table, after, 5);
        for (const k of page) keys.push(k[0]!);
        if (page.length < 5) break;
        after = page.at(-1);
      }
      const all = Array.from({ length: 12 }, (_, i) => String(i + 1));
      assert.deepEqual(keys, all);
      const rows: string[] = [];
      for (let after: string[] | undefined; ; ) {
        const page = await reader.rows(table, ["v"], after, 5);
        for (const r of page) rows.push(`${r.key[0]}=${String(r.values[0])}`);
        if (page.length < 5) break;
        after = page.at(-1)!.key;
      }
      assert.deepEqual(
        rows,
        all.map((k) => `${k}=v${k}`),
      );
      const present = await reader.present(table, [["3"], ["13"], ["12"], ["03"]]);
      assert.deepEqual([...present].sort(), [0, 2, 3]);
    } finally {
      await reader.close();
      await run(engine, url, [`DROP TABLE IF EXISTS ${schema}.${name}`]);
    }
  });
}
