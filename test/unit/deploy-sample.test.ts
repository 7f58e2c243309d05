/**
 * The compose story's SQL and sample service, run for real without Docker: the production
 * database's init scripts (the app's migration, Debezium's role and publication, the seed rows)
 * on an embedded PostgreSQL (PGlite, as `shadowdb demo` uses), then deploy/compose/sample/server.mjs
 * as production (v1) and as the shadow (v2), over HTTP.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import { after, before, test } from "node:test";
import pg from "pg";
import { type EmbeddedPostgres, startEmbeddedPostgres } from "../../src/demo/embedded.ts";

const initScripts = [
  "deploy/compose/sample/schema.sql",
  "deploy/compose/prod-postgres/20-debezium.sql",
  "deploy/compose/prod-postgres/30-seed.sql",
];

let database: EmbeddedPostgres;

before(async () => {
  database = await startEmbeddedPostgres({ host: "127.0.0.1", port: 0 });
  const client = new pg.Client({ connectionString: database.url });
  await client.connect();
  try {
    // The init scripts grant on database prod, as POSTGRES_DB names it in compose.yaml.
    await client.query("CREATE DATABASE prod");
    for (const file of initScripts) await client.query(readFileSync(file, "utf8"));
  } finally {
    await client.end();
  }
});

after(async () => {
  await database?.stop();
});

interface Sample {
  url: string;
  process: ChildProcess;
  stop(): Promise<number | null>;
}

async function startSample(version: string): Promise<Sample> {
  const child = spawn(process.execPath, ["deploy/compose/sample/server.mjs"], {
    env: { ...process.env, DATABASE_URL: database.url, PORT: "0", SAMPLE_VERSION: version },
    stdio: ["ignore", "pipe", "inherit"],
  });
  let output = "";
  const port = await new Promise<string>((resolve, reject) => {
    child.stdout!.on("data", (chunk: Buffer) => {
      output += chunk.toString();
      const match = /listening on :(\d+)/.exec(output);
      if (match) resolve(match[1]!);
    });
    child.once("exit", (code) => reject(new Error(`the sample exited ${code}: ${output}`)));
  });
  return {
    url: `http://127.0.0.1:${port}`,
    process: child,
    async stop() {
      const exited = once(child, "exit");
      child.kill("SIGTERM");
      const [code] = (await exited) as [number | null];
      return code;
    },
  };
}

async function call(sample: Sample, method: string, route: string, body?: unknown) {
  const response = await fetch(`${sample.url}${route}`, {
    method,
    headers: body === undefined ? {} : { "content-type": "application/json" },
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await response.text();
  return {
    status: response.status,
    servedBy: response.headers.get("x-served-by"),
    json: text === "" ? undefined : (JSON.parse(text) as Record<string, unknown> & Record<string, unknown>[]),
  };
}

test("the production init scripts run on PostgreSQL: table, Debezium role, publication, seed rows", async () => {
  const client = new pg.Client({ connectionString: database.url });
  await client.connect();
  try {
    const role = await client.query(
      "SELECT rolreplication, rolcanlogin FROM pg_roles WHERE rolname = 'debezium'",
    );
    assert.deepEqual(role.rows, [{ rolreplication: true, rolcanlogin: true }]);
    const publication = await client.query("SELECT pubname, puballtables FROM pg_publication");
    assert.deepEqual(publication.rows, [{ pubname: "shadowdb_pgprod", puballtables: true }]);
    const readable = await client.query("SELECT has_table_privilege('debezium', 'orders', 'SELECT') AS ok");
    assert.equal(readable.rows[0].ok, true);
    const orders = await client.query("SELECT customer, total, status FROM orders ORDER BY id");
    assert.equal(orders.rowCount, 4);
  } finally {
    await client.end();
  }
});

test("the sample service: v1 serves the orders API on its database, v2 writes statuses upper-case", async () => {
  const v1 = await startSample("v1");
  const v2 = await startSample("v2");
  try {
    const health = await call(v1, "GET", "/healthz");
    assert.deepEqual(
      [health.status, health.json, health.servedBy],
      [200, { ok: true, version: "v1" }, "orders-v1"],
    );

    const list = await call(v1, "GET", "/orders");
    assert.equal(list.status, 200);
    assert.deepEqual(
      list.json!.map((o) => o.customer),
      ["ada", "grace", "linus", "margaret"],
    );

    const created = await call(v1, "POST", "/orders", { customer: "alan", total: "19.99" });
    assert.equal(created.status, 201);
    assert.equal(created.json!.status, "placed");
    assert.equal(created.json!.total, "19.99");
    const id = created.json!.id as string;

    const patched = await call(v1, "PATCH", `/orders/${id}`, { status: "shipped" });
    assert.deepEqual(
      [patched.status, patched.json!.status, patched.json!.customer],
      [200, "shipped", "alan"],
    );
    assert.equal((await call(v1, "GET", `/orders/${id}`)).json!.status, "shipped");

    // The new version differs on purpose: this is what /diff shows in the compose story.
    const shadowCreated = await call(v2, "POST", "/orders", { customer: "barbara", total: 7 });
    assert.deepEqual(
      [shadowCreated.status, shadowCreated.json!.status, shadowCreated.servedBy],
      [201, "PLACED", "orders-v2"],
    );
    const shadowPatched = await call(v2, "PATCH", "/orders/3", { status: "shipped" });
    assert.equal(shadowPatched.json!.status, "SHIPPED");

    assert.equal((await call(v1, "DELETE", `/orders/${id}`)).status, 204);
    assert.equal((await call(v1, "GET", `/orders/${id}`)).status, 404);
    assert.equal((await call(v1, "DELETE", `/orders/${id}`)).status, 404);
    assert.equal((await call(v1, "GET", "/orders/abc")).status, 404);
    assert.equal((await call(v1, "POST", "/orders", "{not json")).status, 400);
    assert.equal((await call(v1, "POST", "/orders", { customer: "x" })).status, 400);
    assert.equal((await call(v1, "POST", "/orders", { customer: "x", total: "lots" })).status, 400);
    assert.equal((await call(v1, "PUT", "/orders")).status, 404);
  } finally {
    // SIGTERM: the server closes and the pool ends; exit 0.
    assert.deepEqual(await Promise.all([v1.stop(), v2.stop()]), [0, 0]);
  }
});

test("the sample service refuses to start without DATABASE_URL or with an unknown version", async () => {
  for (const env of [
    { DATABASE_URL: "" },
    { DATABASE_URL: "postgresql://x@127.0.0.1:1/x", SAMPLE_VERSION: "v3" },
  ]) {
    const child = spawn(process.execPath, ["deploy/compose/sample/server.mjs"], {
      env: { ...process.env, ...env },
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr!.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const [code] = (await once(child, "exit")) as [number];
    assert.equal(code, 2, stderr);
    assert.match(stderr, /DATABASE_URL|SAMPLE_VERSION/);
  }
});
