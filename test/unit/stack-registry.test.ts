/**
 * The stack's schema registry (stack/registry/): every route the Apicurio 2.6 converter and a
 * consumer use, ids that follow content, the date format the 2.6 client parses, bounded bodies,
 * and ids that survive a restart.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, test } from "node:test";
import { maxBodyBytes, startRegistry } from "../../stack/registry/server.ts";

const folder = await mkdtemp(path.join(tmpdir(), "shadowdb-registry-"));
after(() => rm(folder, { recursive: true, force: true }));

const schemaA = JSON.stringify({ type: "record", name: "Key", fields: [{ name: "id", type: "int" }] });
const schemaB = JSON.stringify({ type: "record", name: "Key", fields: [{ name: "id", type: "long" }] });
/** schemaA written with other key order and whitespace: canonically equal. */
const schemaA2 = JSON.stringify(
  { fields: [{ type: "int", name: "id" }], name: "Key", type: "record" },
  undefined,
  2,
);

async function call(base: string, method: string, route: string, body?: string, headers = {}) {
  const response = await fetch(`${base}${route}`, { method, body, headers });
  const text = await response.text();
  return { status: response.status, text, json: () => JSON.parse(text) };
}

const create = (
  base: string,
  artifactId: string,
  schema: string,
  query = "ifExists=RETURN_OR_UPDATE&canonical=true",
) =>
  call(base, "POST", `/apis/registry/v2/groups/default/artifacts?${query}`, schema, {
    "content-type": "application/json",
    "x-registry-artifactid": artifactId,
    "x-registry-artifacttype": "AVRO",
  });

test("the converter's calls and a consumer's lookups, and ids that survive a restart", async () => {
  const file = path.join(folder, "registry.json");
  let registry = await startRegistry({ port: 0, file });
  let base = `http://127.0.0.1:${registry.port}`;

  const first = await create(base, "t-value", schemaA);
  assert.equal(first.status, 200);
  const meta = first.json();
  assert.equal(meta.id, "t-value");
  assert.equal(meta.groupId, "default");
  assert.equal(meta.version, "1");
  assert.equal(meta.type, "AVRO");
  assert.match(meta.createdOn, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+0000$/);
  assert.deepEqual(meta.references, []);

  // Same content (canonically): the same version. New content: a new version and global id.
  assert.deepEqual((await create(base, "t-value", schemaA2)).json(), meta);
  const second = (await create(base, "t-value", schemaB)).json();
  assert.equal(second.version, "2");
  assert.notEqual(second.globalId, meta.globalId);
  assert.notEqual(second.contentId, meta.contentId);
  // Another artifact with content already stored: a new global id, the same content id.
  const other = (await create(base, "u-key", schemaA)).json();
  assert.notEqual(other.globalId, meta.globalId);
  assert.equal(other.contentId, meta.contentId);
  // Without canonical, differently written content is a new version.
  const literal = (await create(base, "t-value", schemaA2, "ifExists=RETURN_OR_UPDATE")).json();
  assert.equal(literal.version, "3");

  const latest = await call(base, "GET", "/apis/registry/v2/groups/default/artifacts/t-value/meta");
  assert.equal(latest.json().globalId, literal.globalId);
  assert.equal((await call(base, "GET", "/apis/registry/v2/groups/default/artifacts/nope/meta")).status, 404);

  assert.equal((await call(base, "GET", `/apis/registry/v2/ids/globalIds/${meta.globalId}`)).text, schemaA);
  assert.equal(
    (await call(base, "GET", `/apis/registry/v2/ids/contentIds/${second.contentId}`)).text,
    schemaB,
  );
  for (const kind of ["globalIds", "contentIds"]) {
    const refs = await call(base, "GET", `/apis/registry/v2/ids/${kind}/${meta.globalId}/references`);
    assert.deepEqual(refs.json(), []);
    assert.equal((await call(base, "GET", `/apis/registry/v2/ids/${kind}/999`)).status, 404);
    assert.equal((await call(base, "GET", `/apis/registry/v2/ids/${kind}/x1`)).status, 404);
  }
  for (const v of ["v6", "v7"]) {
    const confluent = await call(base, "GET", `/apis/ccompat/${v}/schemas/ids/${second.contentId}`);
    assert.deepEqual(confluent.json(), { schema: schemaB });
    const missing = await call(base, "GET", `/apis/ccompat/${v}/schemas/ids/999`);
    assert.equal(missing.status, 404);
    assert.equal(missing.json().error_code, 40403);
  }
  assert.equal((await call(base, "GET", "/other")).status, 404);
  assert.equal((await create(base, "t-value", schemaA, "ifExists=FAIL")).status, 409);
  assert.equal((await create(base, "t-value", schemaA, "ifExists=MAYBE")).status, 400);

  await registry.close();
  registry = await startRegistry({ port: 0, file });
  base = `http://127.0.0.1:${registry.port}`;
  assert.equal((await call(base, "GET", `/apis/registry/v2/ids/globalIds/${second.globalId}`)).text, schemaB);
  assert.deepEqual((await create(base, "t-value", schemaB)).json().globalId, second.globalId);
  const fresh = (await create(base, "v-value", JSON.stringify({ type: "string" }))).json();
  assert.ok(fresh.globalId > literal.globalId, "ids continue after a restart, never reused");
  await registry.close();
});

test("a body over the bound is refused with 413 and nothing is stored", async () => {
  const registry = await startRegistry({ port: 0 });
  const base = `http://127.0.0.1:${registry.port}`;
  try {
    const huge = await create(base, "big", "x".repeat(maxBodyBytes + 1)).catch(() => undefined);
    // Either the 413 answer or a connection closed before the body was sent: never a stored artifact.
    if (huge) assert.equal(huge.status, 413);
    assert.equal(
      (await call(base, "GET", "/apis/registry/v2/groups/default/artifacts/big/meta")).status,
      404,
    );
  } finally {
    await registry.close();
  }
});
