/**
 * The overlay's admin surface end to end on the real stack: the real `shadowdb run` (a child
 * process, HTTP on) keeps a table current; the shadow writes it; `GET /diff` and `shadowdb diff`
 * show the shadow's rows against production (which keeps changing); `POST /reset` and
 * `shadowdb reset` give production's rows back, online. Admin calls need the bearer token.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { test } from "node:test";
import pg from "pg";
import { services } from "../support/env.ts";
import { kafkaClient, waitForTopic } from "../support/kafka.ts";
import { eventually } from "../support/materialize.ts";
import { freePort } from "../support/net.ts";
import { uninstallOverlays } from "../support/overlay.ts";

const token = "admin-token-for-tests-0123456789";

const cli = (...args: string[]) =>
  spawnSync(process.execPath, ["--import", "tsx", "src/cli/main.ts", ...args], { encoding: "utf8" });

test("diff and reset through HTTP and the CLI while run keeps the table current", {
  timeout: 180_000,
}, async () => {
  const env = await services();
  const suffix = randomBytes(4).toString("hex");
  const table = `adm_${suffix}`;
  const group = `test-adm-${suffix}`;
  const topic = `${env.SHADOWDB_PG_TOPIC_PREFIX}.public.${table}`;
  const prod = new pg.Client({ connectionString: env.SHADOWDB_PG_PROD_URL });
  const shadow = new pg.Client({ connectionString: env.SHADOWDB_PG_SHADOW_URL });
  await prod.connect();
  await shadow.connect();
  const port = await freePort();
  const configFile = path.join(tmpdir(), `shadowdb-admin-${suffix}.yaml`);
  let child: ChildProcess | undefined;
  try {
    await prod.query(
      `CREATE TABLE ${table} (id int PRIMARY KEY, v text NOT NULL, touched int NOT NULL DEFAULT 0)`,
    );
    await prod.query(`INSERT INTO ${table} (id, v) VALUES (1, 'one'), (2, 'two'), (3, 'three')`);
    await waitForTopic(kafkaClient(env.SHADOWDB_KAFKA_BROKERS), topic);
    writeFileSync(
      configFile,
      `kafka: { brokers: "${env.SHADOWDB_KAFKA_BROKERS}", groupId: "${group}" }
target: { dialect: postgres, url: "${env.SHADOWDB_PG_SHADOW_URL}" }
tables: [ { topic: "${topic}", table: "public.${table}", diff: { ignore: [touched] } } ]
deadLetter: { table: "public.shadowdb_dead_letters" }
http: { port: ${port}, host: 127.0.0.1, adminToken: "${token}" }
log: { level: warn }
`,
    );
    child = spawn(process.execPath, ["--import", "tsx", "src/cli/main.ts", "run", "--config", configFile], {
      stdio: ["ignore", "inherit", "inherit"],
    });
    const exited = new Promise<number | null>((resolve) => child!.once("exit", resolve));
    const rows = async () =>
      (await shadow.query(`SELECT id, v FROM ${table} ORDER BY id`)).rows
        .map((r) => `${r.id}=${r.v}`)
        .join(",");
    await eventually("the snapshot arrives", async () =>
      (await rows().catch(String)) === "1=one,2=two,3=three" ? true : await rows().catch(String),
    );
    const url = `http://127.0.0.1:${port}`;
    const admin = { authorization: `Bearer ${token}` };

    // The shadow service writes; touched is a noise column the diff leaves out.
    await shadow.query(`UPDATE ${table} SET v = 'mine', touched = 5 WHERE id = 1`);
    await shadow.query(`UPDATE ${table} SET touched = 7 WHERE id = 2`);
    await shadow.query(`INSERT INTO ${table} (id, v) VALUES (9, 'new')`);
    await shadow.query(`DELETE FROM ${table} WHERE id = 3`);
    // Production moves on under an owned key: the shadow's row stays, the diff shows the new version.
    await prod.query(`UPDATE ${table} SET v = 'one, later' WHERE id = 1`);

    const health = await fetch(`${url}/healthz`);
    assert.equal(health.status, 200, "healthz needs no token");
    const status = (await (await fetch(`${url}/status`)).json()) as {
      groupId: string;
      overlay: boolean;
      stats: { applied: number };
      positions: Record<string, string>;
    };
    assert.equal(status.groupId, group);
    assert.equal(status.overlay, true);
    assert.ok(status.stats.applied >= 3, JSON.stringify(status.stats));
    assert.ok(Number(status.positions[`${topic}[0]`]) >= 3, "the snapshot's three records are applied");
    assert.equal((await fetch(`${url}/diff`)).status, 401);
    assert.equal(
      (await fetch(`${url}/diff`, { headers: { authorization: "Bearer wrong-token" } })).status,
      403,
    );
    await eventually("production's change reaches the copy", async () => {
      const body = (await (await fetch(`${url}/diff?table=public.${table}`, { headers: admin })).json()) as {
        tables: {
          rows: { kind: string; key: { id: string }; changed?: { column: string; production: string }[] }[];
        }[];
      };
      const updated = body.tables[0]?.rows.find((r) => r.kind === "updated");
      return updated?.changed?.[0]?.production === "one, later" ? true : JSON.stringify(body);
    });
    const diff = (await (await fetch(`${url}/diff?table=public.${table}`, { headers: admin })).json()) as {
      tables: {
        table: string;
        owned: number;
        rows: { kind: string; key: { id: string }; changed?: unknown }[];
      }[];
    };
    assert.equal(diff.tables.length, 1);
    assert.equal(diff.tables[0]!.table, `public.${table}`);
    assert.equal(diff.tables[0]!.owned, 4, "keys 1, 2, 3 and 9 are the shadow's");
    assert.deepEqual(
      diff.tables[0]!.rows.map((r) => [r.kind, r.key.id]),
      [
        ["updated", "1"],
        ["deleted", "3"],
        ["inserted", "9"],
      ],
      "key 2 differs only in the noise column",
    );
    assert.deepEqual(diff.tables[0]!.rows[0]!.changed, [
      { column: "v", production: "one, later", shadow: "mine" },
    ]);
    assert.equal((await shadow.query(`SELECT v FROM ${table} WHERE id = 1`)).rows[0].v, "mine");

    const text = cli("diff", "--config", configFile, "--table", `public.${table}`);
    assert.equal(text.status, 1, text.stderr);
    assert.match(text.stdout, /public\.adm_\w+\s+updated\s+id=1\s+v\s+one, later\s+mine/);

    const one = await fetch(`${url}/reset`, {
      method: "POST",
      headers: { ...admin, "content-type": "application/json" },
      body: JSON.stringify({ table: `public.${table}`, key: { id: 1 } }),
    });
    assert.equal(one.status, 200);
    assert.deepEqual(await one.json(), { reset: [{ table: `public.${table}`, reset: 1 }] });
    assert.equal((await shadow.query(`SELECT v FROM ${table} WHERE id = 1`)).rows[0].v, "one, later");

    const rest = cli("reset", "--config", configFile, "--table", `public.${table}`);
    assert.equal(rest.status, 0, rest.stderr);
    assert.match(rest.stdout, new RegExp(`public\\.${table}: 3 key\\(s\\) reset to production`));
    assert.equal(await rows(), "1=one, later,2=two,3=three");
    const clean = cli("diff", "--config", configFile, "--table", `public.${table}`, "--format", "json");
    assert.equal(clean.status, 0, clean.stderr);
    assert.deepEqual(JSON.parse(clean.stdout).tables[0].rows, []);

    // Uninstalled under the running apply: the table and rows stay, and run installs it again.
    const off = cli("overlay", "uninstall", "--config", configFile, "--table", `public.${table}`);
    assert.equal(off.status, 0, off.stderr);
    assert.equal(await rows(), "1=one, later,2=two,3=three");
    const registered = async () =>
      (await shadow.query("SELECT count(*)::int AS n FROM shadowdb_overlays WHERE table_name = $1", [table]))
        .rows[0].n;
    assert.equal(await registered(), 0);
    await prod.query(`UPDATE ${table} SET v = 'two, later' WHERE id = 2`);
    await eventually("apply goes on with the overlay installed again", async () =>
      (await rows()) === "1=one, later,2=two, later,3=three" && (await registered()) === 1
        ? true
        : await rows(),
    );
    const on = cli("overlay", "install", "--config", configFile, "--table", `public.${table}`);
    assert.equal(on.status, 0, on.stderr);
    assert.match(on.stdout, /installed the overlay of public\.adm_/);

    child.kill("SIGTERM");
    assert.equal(await exited, 0, "run exits 0 on SIGTERM");
    child = undefined;
  } finally {
    child?.kill("SIGKILL");
    rmSync(configFile, { force: true });
    await uninstallOverlays("postgres", env.SHADOWDB_PG_SHADOW_URL, [{ schema: "public", name: table }]);
    for (const c of [prod, shadow]) await c.query(`DROP TABLE IF EXISTS ${table}`).catch(() => undefined);
    await shadow.query("DELETE FROM shadowdb_positions WHERE group_id = $1", [group]).catch(() => undefined);
    await prod.end();
    await shadow.end();
  }
});
