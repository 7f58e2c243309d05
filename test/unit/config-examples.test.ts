// biome-ignore-all lint/suspicious/noTemplateCurlyInString: the examples use ${NAME} references
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { test } from "node:test";
import { loadConfig, resolveTable } from "../../src/config/index.ts";
import { isShadowdbError } from "../../src/errors.ts";

const env = { SHADOWDB_ADMIN_TOKEN: "0123456789abcdef" };

test("config/postgres.yaml validates with the local stack's values", async () => {
  const config = await loadConfig("config/postgres.yaml", env);
  assert.deepEqual(config.kafka.brokers, ["127.0.0.1:19092"]);
  assert.deepEqual(config.target, {
    dialect: "postgres",
    url: "postgresql://postgres@127.0.0.1:5432/shadow",
  });
  assert.deepEqual(resolveTable(config, "pgprod.public.orders")?.table, { schema: "public", name: "orders" });
  assert.equal(resolveTable(config, "myprod.prod.orders"), undefined);
});

test("config/mysql.yaml validates with the local stack's values", async () => {
  const config = await loadConfig("config/mysql.yaml", env);
  assert.deepEqual(config.kafka.brokers, ["127.0.0.1:19092"]);
  assert.deepEqual(config.target, { dialect: "mysql", url: "mysql://root@127.0.0.1:3306/shadow" });
  assert.deepEqual(resolveTable(config, "myprod.prod.orders")?.table, { schema: "shadow", name: "orders" });
  assert.equal(resolveTable(config, "pgprod.public.orders"), undefined);
});

test("the examples take the stack's variables and require an admin token", async () => {
  const config = await loadConfig("config/postgres.yaml", {
    ...env,
    SHADOWDB_KAFKA_BROKERS: "k1:9092,k2:9092",
    SHADOWDB_PG_SHADOW_URL: "postgres://app:pw@db:5432/shadow",
  });
  assert.deepEqual(config.kafka.brokers, ["k1:9092", "k2:9092"]);
  assert.equal(config.target.url, "postgres://app:pw@db:5432/shadow");
  await assert.rejects(loadConfig("config/mysql.yaml", {}), (error: unknown) => {
    assert.ok(isShadowdbError(error, "CONFIG_ENV_MISSING"));
    assert.match(error.message, /http\.adminToken: SHADOWDB_ADMIN_TOKEN is not set/);
    return true;
  });
});

test("the examples show every key with its default", async () => {
  const keys = [
    "brokers",
    "groupId",
    "clientId",
    "fromBeginning",
    "ssl",
    "ca",
    "cert",
    "key",
    "rejectUnauthorized",
    "sasl",
    "mechanism",
    "username",
    "password",
    "dialect",
    "url",
    "tables",
    "topic",
    "topicPattern",
    "table",
    "columns",
    "exclude",
    "rename",
    "mask",
    "strategy",
    "value",
    "diff",
    "ignore",
    "overlay",
    "enabled",
    "idHeadroom",
    "apply",
    "batchSize",
    "transactional",
    "onError",
    "deadLetter",
    "masking",
    "decode",
    "maxRecordBytes",
    "binaryHandlingMode",
    "http",
    "port",
    "host",
    "adminToken",
    "readyLagMs",
    "stalledAfterMs",
    "shutdown",
    "timeoutMs",
    "log",
    "level",
  ];
  for (const file of ["config/postgres.yaml", "config/mysql.yaml"]) {
    const text = await readFile(file, "utf8");
    for (const key of keys) assert.match(text, new RegExp(`\\b${key}:`), `${file} lacks ${key}`);
  }
});
