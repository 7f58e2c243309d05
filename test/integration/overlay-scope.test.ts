/**
 * `shadowdb diff` and `shadowdb reset` without --table work on the overlays of the tables their
 * config maps, not on every overlay registered in the shadow database (another config's, or a
 * retired mapping's): two overlaid tables, a config that maps one, on the real PostgreSQL.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { test } from "node:test";
import pg from "pg";
import { cli } from "../support/cli.ts";
import { services } from "../support/env.ts";
import { uninstallOverlays } from "../support/overlay.ts";

test("diff and reset without --table touch only the tables the config maps", async () => {
  const env = await services();
  const suffix = randomBytes(4).toString("hex");
  const mapped = `scope_mapped_${suffix}`;
  const other = `scope_other_${suffix}`;
  const shadow = new pg.Client({ connectionString: env.SHADOWDB_PG_SHADOW_URL });
  await shadow.connect();
  const configFile = path.join(tmpdir(), `shadowdb-scope-${suffix}.yaml`);
  try {
    writeFileSync(
      configFile,
      `kafka: { brokers: "${env.SHADOWDB_KAFKA_BROKERS}", groupId: "test-scope-${suffix}" }
target: { dialect: postgres, url: "${env.SHADOWDB_PG_SHADOW_URL}" }
tables: [ { topic: "scope.public.${mapped}", table: "public.${mapped}" } ]
http: { port: 0 }
log: { level: warn }
`,
    );
    for (const table of [mapped, other]) {
      await shadow.query(`CREATE TABLE ${table} (id int PRIMARY KEY, v text NOT NULL)`);
      await shadow.query(`INSERT INTO ${table} (id, v) VALUES (1, 'one')`);
      // --table installs an overlay whatever the config maps: the other table stands for another
      // config's overlay in the same database.
      const install = await cli("overlay", "install", "--config", configFile, "--table", `public.${table}`);
      assert.equal(install.code, 0, install.stderr);
      await shadow.query(`UPDATE ${table} SET v = 'mine' WHERE id = 1`);
    }

    const diff = await cli("diff", "--config", configFile, "--format", "json");
    assert.equal(diff.code, 1, diff.stderr);
    const tables = (JSON.parse(diff.stdout) as { tables: { table: string; rows: unknown[] }[] }).tables;
    assert.deepEqual(
      tables.map((t) => t.table),
      [`public.${mapped}`],
    );
    assert.equal(tables[0]!.rows.length, 1);

    const reset = await cli("reset", "--config", configFile);
    assert.equal(reset.code, 0, reset.stderr);
    assert.equal(reset.stdout, `public.${mapped}: 1 key(s) reset to production\n`);
    assert.equal((await shadow.query(`SELECT v FROM ${mapped}`)).rows[0].v, "one");
    assert.equal((await shadow.query(`SELECT v FROM ${other}`)).rows[0].v, "mine", "not this config's");

    // Named with --table, the other table is still reachable.
    const named = await cli("diff", "--config", configFile, "--table", `public.${other}`, "--format", "json");
    assert.equal(named.code, 1, named.stderr);
    assert.equal(JSON.parse(named.stdout).tables[0].table, `public.${other}`);
  } finally {
    rmSync(configFile, { force: true });
    await uninstallOverlays("postgres", env.SHADOWDB_PG_SHADOW_URL, [
      { schema: "public", name: mapped },
      { schema: "public", name: other },
    ]);
    for (const table of [mapped, other]) await shadow.query(`DROP TABLE IF EXISTS ${table}`).catch(() => {});
    await shadow.end();
  }
});
