import assert from "node:assert/strict";
import http from "node:http";
import { after, before, describe, test } from "node:test";
import type { Value } from "../../src/decode/values.ts";
import { ShadowdbError } from "../../src/errors.ts";
import { MAX_BODY_BYTES } from "../../src/http/body.ts";
import { type HttpRoutes, type HttpServer, startHttpServer } from "../../src/http/server.ts";
import { createLogger } from "../../src/log.ts";
import { diffJson, type ResetCount } from "../../src/overlay/admin.ts";
import { diffText } from "../../src/overlay/diff-text.ts";
import type { TableDiff } from "../../src/target/dialect.ts";

const TOKEN = "s3cret-admin-token-0123456789";
const auth = { authorization: `Bearer ${TOKEN}` };

const diffs: TableDiff[] = [
  {
    table: { schema: "public", name: "customers" },
    owned: 2,
    rows: [
      {
        kind: "updated",
        key: { id: "1" },
        changed: [{ column: "email", production: "a@example.com", shadow: "b@example.com" }],
      },
      { kind: "inserted", key: { id: "9" }, shadow: { id: "9", email: "new@example.com" } },
    ],
  },
];

/** Fakes of the injected work: what they were asked, and what they answer or throw. */
class FakeWork implements HttpRoutes {
  diffCalls: (string | undefined)[] = [];
  resetCalls: { table: string | undefined; key: Record<string, Value> | undefined }[] = [];
  failure: unknown;
  hold: Promise<void> | undefined;
  problems: string[] = [];

  notReady: string[] = [];

  health(): string[] {
    return this.problems;
  }

  ready(): string[] {
    return this.notReady;
  }

  async metrics() {
    return { contentType: "text/plain; version=0.0.4; charset=utf-8", text: "shadowdb_ready 1\n" };
  }

  async status(): Promise<unknown> {
    return { applied: 7 };
  }

  async diff(table?: string): Promise<TableDiff[]> {
    this.diffCalls.push(table);
    if (this.hold) await this.hold;
    if (this.failure !== undefined) throw this.failure;
    return diffs;
  }

  async reset(table?: string, key?: Record<string, Value>): Promise<ResetCount[]> {
    this.resetCalls.push({ table, key });
    if (this.failure !== undefined) throw this.failure;
    const tables = table === undefined ? ["public.customers", "public.orders"] : [table];
    return tables.map((t) => ({ table: t, reset: key === undefined ? 3 : 1 }));
  }
}

const logLines: string[] = [];
const log = createLogger("trace", { write: (line: string) => void logLines.push(line) });

function start(
  work: HttpRoutes,
  options: { adminToken?: string; closeGraceMs?: number } = { adminToken: TOKEN },
) {
  return startHttpServer({ host: "127.0.0.1", port: 0, log, routes: work, ...options });
}

interface ErrorBody {
  error: string;
  message: string;
}

/** The JSON of a response, typed for the test's reading. */
const json = <T = ErrorBody>(response: Response) => response.json() as Promise<T>;

describe("http admin endpoints", () => {
  const work = new FakeWork();
  let server: HttpServer;
  let base: string;
  const reset = (body?: string, headers: Record<string, string> = auth) =>
    fetch(`${base}/reset`, { method: "POST", headers, body });

  before(async () => {
    server = await start(work);
    base = `http://127.0.0.1:${server.port}`;
  });
  after(() => server.close());

  const clear = () => {
    work.diffCalls = [];
    work.resetCalls = [];
    work.failure = undefined;
  };

  test("port 0 picks a free port", () => {
    assert.ok(server.port > 0);
  });

  test("without a token: 401 with WWW-Authenticate: Bearer, and the work is not done", async () => {
    clear();
    for (const headers of [
      {} as Record<string, string>,
      { authorization: "Basic dXNlcjpwdw==" },
      { authorization: "Bearer" },
    ]) {
      const response = await fetch(`${base}/diff`, { headers });
      assert.equal(response.status, 401);
      assert.match(response.headers.get("www-authenticate") ?? "", /^Bearer\b/);
      assert.equal((await json(response)).error, "HTTP_UNAUTHORIZED");
    }
    assert.equal((await reset(undefined, {})).status, 401);
    assert.deepEqual(work.diffCalls, []);
    assert.deepEqual(work.resetCalls, []);
  });

  test("a wrong token, of any length: 403", async () => {
    clear();
    for (const token of ["x", `${TOKEN.slice(0, -1)}X`, `${TOKEN}0`, TOKEN.toUpperCase()]) {
      const response = await fetch(`${base}/diff`, { headers: { authorization: `Bearer ${token}` } });
      assert.equal(response.status, 403);
      assert.match(response.headers.get("www-authenticate") ?? "", /^Bearer\b.*invalid_token/);
      const body = await json(response);
      assert.equal(body.error, "HTTP_FORBIDDEN");
      assert.ok(!JSON.stringify(body).includes(token));
    }
    assert.equal((await reset(undefined, { authorization: "Bearer nope" })).status, 403);
    assert.deepEqual(work.diffCalls, []);
    assert.deepEqual(work.resetCalls, []);
  });

  test("the scheme is case-insensitive", async () => {
    clear();
    const response = await fetch(`${base}/diff`, { headers: { authorization: `bearer ${TOKEN}` } });
    assert.equal(response.status, 200);
  });

  test("GET /diff: JSON by default, every overlay", async () => {
    clear();
    const response = await fetch(`${base}/diff`, { headers: auth });
    assert.equal(response.status, 200);
    assert.equal(response.headers.get("content-type"), "application/json");
    assert.equal(response.headers.get("cache-control"), "no-store");
    assert.deepEqual(await response.json(), diffJson(diffs));
    assert.deepEqual(work.diffCalls, [undefined]);
  });

  test("GET /diff?table=…&format=text: the text form of one table", async () => {
    clear();
    const response = await fetch(`${base}/diff?table=public.customers&format=text`, { headers: auth });
    assert.equal(response.status, 200);
    assert.match(response.headers.get("content-type") ?? "", /^text\/plain/);
    assert.equal(await response.text(), `${diffText(diffs)}\n`);
    assert.deepEqual(work.diffCalls, ["public.customers"]);
    const json = await fetch(`${base}/diff?table=public.customers&format=json`, { headers: auth });
    assert.deepEqual(await json.json(), diffJson(diffs));
  });

  test("GET /diff: a bad table, format or parameter is a 400 before any work", async () => {
    clear();
    for (const query of [
      "table=customers",
      "table=public.cust-omers",
      "table=a.b.c",
      "format=xml",
      "tabel=public.customers",
      "table=public.a&table=public.b",
    ]) {
      const response = await fetch(`${base}/diff?${query}`, { headers: auth });
      assert.equal(response.status, 400, query);
      assert.match(response.headers.get("content-type") ?? "", /^application\/json/);
      assert.equal((await json(response)).error, "USAGE_INVALID");
    }
    assert.deepEqual(work.diffCalls, []);
  });

  test("POST /reset with no body: every overlay", async () => {
    clear();
    const response = await reset();
    assert.equal(response.status, 200);
    assert.equal(response.headers.get("content-type"), "application/json");
    assert.deepEqual(await response.json(), {
      reset: [
        { table: "public.customers", reset: 3 },
        { table: "public.orders", reset: 3 },
      ],
    });
    assert.deepEqual(work.resetCalls, [{ table: undefined, key: undefined }]);
    assert.equal((await reset("{}")).status, 200);
    assert.equal((await reset("  \n")).status, 200);
    assert.deepEqual(work.resetCalls.length, 3);
    assert.ok(work.resetCalls.every((c) => c.table === undefined && c.key === undefined));
  });

  test("POST /reset one table, and one key of one table", async () => {
    clear();
    const table = await reset(JSON.stringify({ table: "public.orders" }));
    assert.equal(table.status, 200);
    assert.deepEqual(await table.json(), { reset: [{ table: "public.orders", reset: 3 }] });
    const key = await reset(JSON.stringify({ table: "public.orders", key: { id: 42, region: "eu" } }), {
      ...auth,
      "content-type": "application/json",
    });
    assert.equal(key.status, 200);
    assert.deepEqual(await key.json(), { reset: [{ table: "public.orders", reset: 1 }] });
    assert.deepEqual(work.resetCalls, [
      { table: "public.orders", key: undefined },
      { table: "public.orders", key: { id: 42, region: "eu" } },
    ]);
  });

  test("POST /reset: a key without a table, bad JSON, a bad table or key is a 400 before any work", async () => {
    clear();
    const bodies = [
      JSON.stringify({ key: { id: 42 } }),
      '{"table": "public.orders"',
      "not json",
      "[]",
      '"public.orders"',
      "null",
      JSON.stringify({ table: "orders" }),
      JSON.stringify({ table: "public.orders; drop table x" }),
      JSON.stringify({ table: 42 }),
      JSON.stringify({ table: "public.orders", key: [1] }),
      JSON.stringify({ table: "public.orders", key: { id: { nested: 1 } } }),
      JSON.stringify({ table: "public.orders", key: {} }),
      JSON.stringify({ table: "public.orders", key: '{"id": 1}' }),
      JSON.stringify({ tabel: "public.orders" }),
    ];
    for (const body of bodies) {
      const response = await reset(body);
      assert.equal(response.status, 400, body);
      const answer = await json(response);
      assert.equal(answer.error, "USAGE_INVALID", body);
      assert.equal(typeof answer.message, "string");
    }
    const invalidUtf8 = await fetch(`${base}/reset`, {
      method: "POST",
      headers: auth,
      body: new Uint8Array([0x7b, 0xff, 0x7d]),
    });
    assert.equal(invalidUtf8.status, 400);
    assert.deepEqual(work.resetCalls, []);
  });

  test("unknown route: 404; wrong method: 405 with Allow", async () => {
    clear();
    for (const path of ["/", "/nope", "/diff/", "//diff", "/reset/x"]) {
      const response = await fetch(`${base}${path}`, { headers: auth });
      assert.equal(response.status, 404, path);
      assert.equal((await json(response)).error, "HTTP_NOT_FOUND");
    }
    const getReset = await fetch(`${base}/reset`, { headers: auth });
    assert.equal(getReset.status, 405);
    assert.equal(getReset.headers.get("allow"), "POST");
    assert.equal((await json(getReset)).error, "HTTP_METHOD_NOT_ALLOWED");
    for (const method of ["POST", "PUT", "DELETE"]) {
      const response = await fetch(`${base}/diff`, { method, headers: auth });
      assert.equal(response.status, 405, method);
      assert.equal(response.headers.get("allow"), "GET");
    }
    assert.deepEqual(work.diffCalls, []);
    assert.deepEqual(work.resetCalls, []);
  });

  test("a body over 64 KiB: 413, declared or streamed; exactly 64 KiB is read", async () => {
    clear();
    const prefix = JSON.stringify({ table: "public.orders" });
    const exact = prefix + " ".repeat(MAX_BODY_BYTES - prefix.length);
    assert.equal((await reset(exact)).status, 200);
    const declared = await reset(`${exact} `);
    assert.equal(declared.status, 413);
    assert.equal((await json(declared)).error, "HTTP_BODY_TOO_LARGE");
    const big = new TextEncoder().encode(" ".repeat(16 * 1024));
    let sent = 0;
    const streamed = await fetch(`${base}/reset`, {
      method: "POST",
      headers: auth,
      duplex: "half",
      body: new ReadableStream({
        pull(controller) {
          if (sent++ < 5) controller.enqueue(big);
          else controller.close();
        },
      }),
    } as RequestInit);
    assert.equal(streamed.status, 413);
    assert.equal((await json(streamed)).error, "HTTP_BODY_TOO_LARGE");
    assert.deepEqual(work.resetCalls, [{ table: "public.orders", key: undefined }]);
    // The server still answers afterwards.
    assert.equal((await fetch(`${base}/diff`, { headers: auth })).status, 200);
  });

  test("errors of the work: OVERLAY_NOT_INSTALLED 404, retriable 503, others 500", async () => {
    const cases: [unknown, number, string][] = [
      [
        new ShadowdbError("OVERLAY_NOT_INSTALLED", "public.orders has no overlay"),
        404,
        "OVERLAY_NOT_INSTALLED",
      ],
      [new ShadowdbError("USAGE_INVALID", "bad"), 400, "USAGE_INVALID"],
      [new ShadowdbError("TARGET_CONNECTION", "connection refused"), 503, "TARGET_CONNECTION"],
      [new ShadowdbError("TARGET_DEADLOCK", "deadlock"), 503, "TARGET_DEADLOCK"],
      [new ShadowdbError("TARGET_PRIVILEGE", "no privilege"), 500, "TARGET_PRIVILEGE"],
    ];
    for (const [failure, status, code] of cases) {
      clear();
      work.failure = failure;
      for (const response of [await fetch(`${base}/diff`, { headers: auth }), await reset()]) {
        assert.equal(response.status, status, code);
        assert.deepEqual(await response.json(), { error: code, message: (failure as Error).message });
      }
    }
  });

  test("any other error: 500 without internals", async () => {
    clear();
    work.failure = new TypeError("cannot read properties of undefined (reading 'secretColumn')");
    const response = await fetch(`${base}/diff`, { headers: auth });
    assert.equal(response.status, 500);
    const text = await response.text();
    assert.equal((JSON.parse(text) as ErrorBody).error, "INTERNAL_ERROR");
    assert.ok(!text.includes("secretColumn"));
    assert.ok(!text.includes("TypeError"));
    clear();
  });

  test("the token is never logged", async () => {
    await fetch(`${base}/diff`, { headers: auth });
    await fetch(`${base}/diff`, { headers: { authorization: "Bearer wrong-token-value" } });
    await reset(JSON.stringify({ table: "public.orders" }));
    const logged = logLines.join("");
    assert.match(logged, /"path":"\/diff"/);
    assert.match(logged, /"status":403/);
    assert.ok(!logged.includes(TOKEN));
    assert.ok(!logged.includes("wrong-token-value"));
    assert.ok(!/authorization/i.test(logged));
  });
});

test("without a configured token the admin endpoints answer 403 to everyone", async () => {
  const work = new FakeWork();
  const server = await start(work, {});
  try {
    const base = `http://127.0.0.1:${server.port}`;
    for (const headers of [{}, auth, { authorization: "Bearer " }]) {
      const response = await fetch(`${base}/diff`, { headers });
      assert.equal(response.status, 403);
      assert.equal((await json(response)).error, "HTTP_FORBIDDEN");
      assert.equal((await fetch(`${base}/reset`, { method: "POST", headers })).status, 403);
    }
    assert.deepEqual(work.diffCalls, []);
    assert.deepEqual(work.resetCalls, []);
  } finally {
    await server.close();
  }
});

/** A GET over a keep-alive agent; the socket stays open afterwards. */
function keepAliveGet(agent: http.Agent, port: number, path: string) {
  return new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }>(
    (resolve, reject) => {
      const request = http.get({ host: "127.0.0.1", port, path, agent, headers: auth }, (response) => {
        let body = "";
        response.setEncoding("utf8");
        response.on("data", (chunk) => {
          body += chunk;
        });
        response.on("end", () =>
          resolve({ status: response.statusCode ?? 0, headers: response.headers, body }),
        );
      });
      request.on("error", reject);
    },
  );
}

test("close() returns promptly while a keep-alive connection is open", async () => {
  const server = await start(new FakeWork());
  const agent = new http.Agent({ keepAlive: true, keepAliveMsecs: 60_000 });
  try {
    const first = await keepAliveGet(agent, server.port, "/diff");
    assert.equal(first.status, 200);
    assert.notEqual(first.headers.connection, "close");
    assert.equal(Object.values(agent.freeSockets).flat().length, 1);
    const started = performance.now();
    await server.close();
    assert.ok(performance.now() - started < 1000, `close took ${performance.now() - started} ms`);
    await assert.rejects(fetch(`http://127.0.0.1:${server.port}/diff`, { headers: auth }));
  } finally {
    agent.destroy();
  }
});

test("close() lets a request under way finish, with Connection: close", async () => {
  const work = new FakeWork();
  let release = () => {};
  work.hold = new Promise((resolve) => {
    release = resolve;
  });
  const server = await start(work);
  const agent = new http.Agent({ keepAlive: true });
  try {
    const pending = keepAliveGet(agent, server.port, "/diff");
    while (work.diffCalls.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    let closed = false;
    const closing = server.close().then(() => {
      closed = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(closed, false);
    release();
    const answer = await pending;
    assert.equal(answer.status, 200);
    assert.equal(answer.headers.connection, "close");
    await closing;
  } finally {
    agent.destroy();
  }
});

test("close() cuts a request that outlasts the grace period", async () => {
  const work = new FakeWork();
  work.hold = new Promise(() => {});
  const server = await start(work, { adminToken: TOKEN, closeGraceMs: 100 });
  const pending = fetch(`http://127.0.0.1:${server.port}/diff`, { headers: auth });
  while (work.diffCalls.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
  const started = performance.now();
  await server.close();
  assert.ok(performance.now() - started < 1000);
  await assert.rejects(pending);
});

test("listening on a port in use fails with the address in the message", async () => {
  const first = await start(new FakeWork());
  try {
    await assert.rejects(
      startHttpServer({ host: "127.0.0.1", port: first.port, log, routes: new FakeWork() }),
      new RegExp(`127\\.0\\.0\\.1:${first.port}.*EADDRINUSE`),
    );
  } finally {
    await first.close();
  }
});

test("/healthz and /status need no token; /healthz answers 503 with the reasons when unhealthy", async () => {
  const work = new FakeWork();
  const server = await start(work);
  try {
    const url = `http://127.0.0.1:${server.port}`;
    const healthy = await fetch(`${url}/healthz`);
    assert.equal(healthy.status, 200);
    assert.deepEqual(await healthy.json(), { healthy: true, reasons: [] });
    work.problems = ["the materializer stopped: TARGET_SCHEMA"];
    const sick = await fetch(`${url}/healthz`);
    assert.equal(sick.status, 503);
    assert.deepEqual(await sick.json(), {
      healthy: false,
      reasons: ["the materializer stopped: TARGET_SCHEMA"],
    });
    const status = await fetch(`${url}/status`);
    assert.equal(status.status, 200);
    assert.deepEqual(await status.json(), { applied: 7 });
    assert.equal((await fetch(`${url}/status`, { method: "POST" })).status, 405);
  } finally {
    await server.close();
  }
});

test("/readyz and /metrics need no token; /readyz answers 503 with the reasons when not ready", async () => {
  const work = new FakeWork();
  const server = await start(work);
  try {
    const url = `http://127.0.0.1:${server.port}`;
    const ready = await fetch(`${url}/readyz`);
    assert.equal(ready.status, 200);
    assert.deepEqual(await ready.json(), { ready: true, reasons: [] });
    work.notReady = ["kafka: KafkaJSConnectionError: Connection error"];
    const notReady = await fetch(`${url}/readyz`);
    assert.equal(notReady.status, 503);
    assert.deepEqual(await notReady.json(), {
      ready: false,
      reasons: ["kafka: KafkaJSConnectionError: Connection error"],
    });
    const metrics = await fetch(`${url}/metrics`);
    assert.equal(metrics.status, 200);
    assert.equal(metrics.headers.get("content-type"), "text/plain; version=0.0.4; charset=utf-8");
    assert.equal(await metrics.text(), "shadowdb_ready 1\n");
  } finally {
    await server.close();
  }
});
