/**
 * The schema registry client against a tiny in-test HTTP server (our own fake of the two APIs'
 * GET calls): paths of both APIs, credentials, one request per id however many ask, typed errors
 * for 404, 5xx, 401, timeouts, huge and malformed answers, and Protobuf/JSON Schema ids.
 */
import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, test } from "node:test";
import { apiBases, RegistryClient } from "../../src/decode/avro/registry.ts";
import { isShadowdbError } from "../../src/errors.ts";

const avroSchema = { type: "record", name: "K", fields: [{ name: "id", type: "int" }] };
const requests: { url: string; authorization: string | undefined }[] = [];

const server = http.createServer((req, res) => {
  requests.push({ url: req.url ?? "", authorization: req.headers.authorization });
  const url = req.url ?? "";
  const send = (status: number, body: string, headers: Record<string, string> = {}) => {
    res.writeHead(status, { "content-type": "application/json", ...headers });
    res.end(body);
  };
  if (url.endsWith("/ids/1"))
    return setTimeout(() => send(200, JSON.stringify({ schema: JSON.stringify(avroSchema) })), 20);
  if (url.endsWith("/ids/2")) return send(404, '{"error_code":40403,"message":"Schema not found"}');
  if (url.endsWith("/ids/3")) return send(503, "down");
  if (url.endsWith("/ids/4")) return send(401, "no");
  if (url.endsWith("/ids/5")) return send(200, "<html>not json</html>");
  if (url.endsWith("/ids/6")) return send(200, JSON.stringify({ schema: "x".repeat(70_000) }));
  if (url.endsWith("/ids/7"))
    return send(200, JSON.stringify({ schema: 'syntax = "proto3";', schemaType: "PROTOBUF" }));
  if (url.endsWith("/ids/8")) return; // never answers
  if (url.endsWith("/ids/13")) {
    // Trickles a byte every 50 ms: each within the socket timeout, the whole never.
    res.writeHead(200);
    const drip = setInterval(() => res.write(" "), 50);
    res.on("close", () => clearInterval(drip));
    return;
  }
  if (url.endsWith("/ids/9")) {
    // Chunked, no content-length: the size is counted as it arrives.
    res.writeHead(200);
    for (let i = 0; i < 100; i++) res.write("x".repeat(1000));
    return res.end();
  }
  if (url === "/apis/registry/v2/ids/globalIds/10") return send(200, JSON.stringify(avroSchema));
  if (url === "/apis/registry/v2/ids/globalIds/11")
    return send(200, 'syntax = "proto3";', { "x-registry-artifacttype": "PROTOBUF" });
  if (url === "/apis/registry/v2/ids/globalIds/12")
    return send(200, JSON.stringify({ $schema: "x", type: "object" }));
  send(500, "unexpected");
});

let base = "";
before(async () => {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => {
  server.closeAllConnections();
  server.close();
});

async function rejects(promise: Promise<unknown>, code: string, retriable: boolean, pattern?: RegExp) {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(isShadowdbError(error), String(error));
    assert.equal(error.code, code);
    assert.equal(error.retriable, retriable);
    if (pattern) assert.match(error.message, pattern);
    return true;
  });
}

test("both APIs' bases come from the one URL, whichever path it names", () => {
  assert.deepEqual(apiBases("http://r:8080/"), {
    confluent: "http://r:8080",
    apicurio: "http://r:8080/apis/registry/v2",
  });
  assert.deepEqual(apiBases("http://r:8080/apis/ccompat/v7"), {
    confluent: "http://r:8080/apis/ccompat/v7",
    apicurio: "http://r:8080/apis/registry/v2",
  });
  assert.deepEqual(apiBases("http://r:8080/apis/registry/v2/"), {
    confluent: "http://r:8080/apis/ccompat/v7",
    apicurio: "http://r:8080/apis/registry/v2",
  });
});

test("a Confluent id is fetched once, however many ask at the same time, with basic auth", async () => {
  requests.length = 0;
  const client = new RegistryClient({ url: base, username: "u", password: "p" });
  const all = await Promise.all([1, 2, 3].map(() => client.schema({ kind: "confluent", id: 1 })));
  for (const schema of all) assert.deepEqual(schema, avroSchema);
  assert.deepEqual(await client.schema({ kind: "confluent", id: 1 }), avroSchema);
  assert.deepEqual(requests, [
    { url: "/schemas/ids/1", authorization: `Basic ${Buffer.from("u:p").toString("base64")}` },
  ]);
});

test("an Apicurio global id is read from the v2 API, with a bearer token", async () => {
  requests.length = 0;
  const client = new RegistryClient({ url: `${base}/apis/ccompat/v7`, token: "t0k" });
  assert.deepEqual(await client.schema({ kind: "apicurio", id: 10 }), avroSchema);
  assert.deepEqual(requests, [{ url: "/apis/registry/v2/ids/globalIds/10", authorization: "Bearer t0k" }]);
});

test("404 is DECODE_SCHEMA_NOT_FOUND (kept: not asked again); 5xx and no answer are retriable (asked again)", async () => {
  const client = new RegistryClient({ url: base, timeoutMs: 200 });
  requests.length = 0;
  await rejects(client.schema({ kind: "confluent", id: 2 }), "DECODE_SCHEMA_NOT_FOUND", false, /schema id 2/);
  await rejects(client.schema({ kind: "confluent", id: 2 }), "DECODE_SCHEMA_NOT_FOUND", false);
  assert.equal(requests.length, 1);
  await rejects(client.schema({ kind: "confluent", id: 3 }), "REGISTRY_UNAVAILABLE", true, /HTTP 503/);
  await rejects(client.schema({ kind: "confluent", id: 3 }), "REGISTRY_UNAVAILABLE", true);
  assert.equal(requests.length, 3);
  await rejects(client.schema({ kind: "confluent", id: 8 }), "REGISTRY_UNAVAILABLE", true, /within 200 ms/);
  await rejects(
    client.schema({ kind: "confluent", id: 13 }),
    "REGISTRY_UNAVAILABLE",
    true,
    /whole answer within 200 ms/,
  );
  const closed = new RegistryClient({ url: "http://127.0.0.1:1" });
  await rejects(closed.schema({ kind: "confluent", id: 1 }), "REGISTRY_UNAVAILABLE", true, /ECONNREFUSED/);
});

test("401 is REGISTRY_REFUSED; huge, malformed, Protobuf and JSON Schema answers are typed", async () => {
  const client = new RegistryClient({ url: base, maxResponseBytes: 64 * 1024 });
  await rejects(client.schema({ kind: "confluent", id: 4 }), "REGISTRY_REFUSED", false, /401.*credentials/);
  await rejects(client.schema({ kind: "confluent", id: 5 }), "DECODE_BAD_REGISTRY_SCHEMA", false, /not JSON/);
  await rejects(
    client.schema({ kind: "confluent", id: 6 }),
    "DECODE_BAD_REGISTRY_SCHEMA",
    false,
    /larger than 65536/,
  );
  await rejects(
    client.schema({ kind: "confluent", id: 9 }),
    "DECODE_BAD_REGISTRY_SCHEMA",
    false,
    /larger than 65536/,
  );
  await rejects(client.schema({ kind: "confluent", id: 7 }), "DECODE_FORMAT_UNSUPPORTED", false, /PROTOBUF/);
  await rejects(client.schema({ kind: "apicurio", id: 11 }), "DECODE_FORMAT_UNSUPPORTED", false, /PROTOBUF/);
  await rejects(
    client.schema({ kind: "apicurio", id: 12 }),
    "DECODE_FORMAT_UNSUPPORTED",
    false,
    /JSON schema/,
  );
});

test("the cache is bounded: the oldest id is fetched again", async () => {
  requests.length = 0;
  const client = new RegistryClient({ url: base, cacheSize: 1 });
  await client.schema({ kind: "confluent", id: 1 });
  await client.schema({ kind: "apicurio", id: 10 });
  await client.schema({ kind: "confluent", id: 1 });
  assert.equal(requests.length, 3);
});
