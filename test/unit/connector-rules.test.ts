/**
 * The connector rule table on settings objects: what each rule fails, warns about and accepts,
 * including Debezium's defaults for settings a connector leaves out, and the shipped connectors
 * (connectors/*.json) passing every rule.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { stringify } from "yaml";
import {
  connectorRules,
  judgeConnector,
  type RuleContext,
  type RuleVerdict,
  sourceEngine,
} from "../../src/check/connector-rules.ts";
import { parseConfig } from "../../src/config/index.ts";
import { loadConnectors } from "../../stack/connect.ts";

const JSON_CONVERTER = "org.apache.kafka.connect.json.JsonConverter";

function shadowdb(extra: Record<string, unknown> = {}) {
  return parseConfig(
    stringify({
      kafka: { brokers: "k:9092", groupId: "g" },
      target: { dialect: "postgres", url: "postgres://h/shadow" },
      tables: [{ topicPattern: "^pgprod\\.public\\.(.+)$", table: "public.$1" }],
      http: { port: 0 },
      ...extra,
    }),
    "test.yaml",
    {},
  );
}

/** Settings every rule accepts, for a PostgreSQL connector. */
const good: Record<string, string> = {
  "connector.class": "io.debezium.connector.postgresql.PostgresConnector",
  "topic.prefix": "pgprod",
  "skipped.operations": "none",
  "interval.handling.mode": "string",
  "key.converter": JSON_CONVERTER,
  "value.converter": JSON_CONVERTER,
  "value.converter.schemas.enable": "true",
  "snapshot.mode": "initial",
  "column.propagate.source.type": ".*",
};

function judged(settings: Record<string, string>, config = shadowdb()): Map<string, RuleVerdict> {
  const ctx: RuleContext = { engine: sourceEngine(settings["connector.class"]), shadowdb: config, settings };
  return new Map(judgeConnector(ctx).map((v) => [v.setting, v]));
}

function statusOf(settings: Record<string, string>, setting: string, config = shadowdb()) {
  return judged(settings, config).get(setting)?.status;
}

const without = (key: string) => Object.fromEntries(Object.entries(good).filter(([k]) => k !== key));

test("every rule says why and how to fix it", () => {
  for (const rule of connectorRules) {
    assert.ok(rule.why.length > 20, rule.setting);
    assert.ok(
      rule.fix({ engine: "postgres", shadowdb: shadowdb(), settings: good }).length > 0,
      rule.setting,
    );
  }
  assert.equal(
    new Set(connectorRules.map((r) => r.setting)).size,
    connectorRules.length,
    "one rule per setting",
  );
});

test("good settings pass every rule that applies", () => {
  const verdicts = [...judged(good).values()];
  assert.deepEqual(
    verdicts.filter((v) => v.status !== "ok").map((v) => v.setting),
    [],
  );
  assert.ok(verdicts.length >= 8);
});

test("skipped.operations: absent means Debezium's default t, which skips truncates", () => {
  const absent = judged(without("skipped.operations")).get("skipped.operations")!;
  assert.equal(absent.status, "fail");
  assert.equal(absent.value, undefined);
  assert.equal(absent.debeziumDefault, "t");
  assert.match(absent.why, /truncate/);
  assert.equal(absent.fix, '"skipped.operations": "none"');
  assert.equal(statusOf({ ...good, "skipped.operations": "t" }, "skipped.operations"), "fail");
  assert.equal(statusOf({ ...good, "skipped.operations": "c, u" }, "skipped.operations"), "fail");
  assert.equal(statusOf({ ...good, "skipped.operations": "none" }, "skipped.operations"), "ok");
  // The same default holds for MySQL/MariaDB connectors (CommonConnectorConfig).
  const mariadb = {
    ...without("skipped.operations"),
    "connector.class": "io.debezium.connector.mariadb.MariaDbConnector",
  };
  assert.equal(statusOf(mariadb, "skipped.operations"), "fail");
});

test("binary.handling.mode must be what decode.binaryHandlingMode reads", () => {
  assert.equal(statusOf(good, "binary.handling.mode"), "ok", "both default to bytes");
  const hex = { ...without("column.propagate.source.type"), "binary.handling.mode": "hex" };
  const verdict = judged(hex).get("binary.handling.mode")!;
  assert.equal(verdict.status, "fail");
  assert.match(verdict.fix, /decode\.binaryHandlingMode: hex/);
  const config = shadowdb({ decode: { binaryHandlingMode: "hex" } });
  assert.equal(statusOf(hex, "binary.handling.mode", config), "ok");
  assert.equal(statusOf(good, "binary.handling.mode", config), "fail");
  // With hex, binary columns are told from text only by their propagated source type.
  assert.equal(statusOf(hex, "column.propagate.source.type", config), "warn");
  assert.equal(
    statusOf({ ...hex, "column.propagate.source.type": ".*" }, "column.propagate.source.type", config),
    "ok",
  );
  const bare = without("column.propagate.source.type");
  const none = shadowdb({ schema: { follow: "none" } });
  assert.equal(
    judged(bare, none).get("column.propagate.source.type"),
    undefined,
    "not asked for: bytes, follow none",
  );
  // Schema following learns lengths, scales and fraction digits from the source type.
  assert.equal(statusOf(bare, "column.propagate.source.type"), "warn");
  assert.equal(
    statusOf({ ...bare, "datatype.propagate.source.type": ".+" }, "column.propagate.source.type"),
    "ok",
  );
  const oneTable = shadowdb({
    schema: { follow: "none" },
    tables: [{ topic: "pgprod.public.t", table: "public.t", schema: { follow: "safe" } }],
  });
  assert.equal(statusOf(bare, "column.propagate.source.type", oneTable), "warn", "one table follows");
});

test("source-transaction mode needs the connector's transaction metadata, on the configured topic", () => {
  const source = shadowdb({ apply: { transactional: "source", transactionTopic: "pgprod.transaction" } });
  assert.equal(statusOf(good, "provide.transaction.metadata", source), "fail", "Debezium's default is false");
  const withMetadata = { ...good, "provide.transaction.metadata": "true" };
  assert.equal(statusOf(withMetadata, "provide.transaction.metadata", source), "ok");
  assert.equal(statusOf(withMetadata, "topic.transaction", source), "ok", "default suffix transaction");
  const renamed = { ...withMetadata, "topic.transaction": "tx" };
  const verdict = judged(renamed, source).get("topic.transaction")!;
  assert.equal(verdict.status, "fail");
  assert.equal(verdict.fix, "apply.transactionTopic: pgprod.tx");
  const table = judged(good);
  assert.equal(table.get("provide.transaction.metadata"), undefined, "table mode does not need it");
  assert.equal(table.get("topic.transaction"), undefined);
});

test("settings that lose digits or rows are warnings, a snapshot without streaming a failure", () => {
  assert.equal(statusOf({ ...good, "time.precision.mode": "connect" }, "time.precision.mode"), "warn");
  assert.equal(statusOf({ ...good, "time.precision.mode": "adaptive" }, "time.precision.mode"), "ok");
  assert.equal(statusOf({ ...good, "decimal.handling.mode": "double" }, "decimal.handling.mode"), "warn");
  assert.equal(statusOf({ ...good, "interval.handling.mode": "numeric" }, "interval.handling.mode"), "warn");
  assert.equal(statusOf(without("interval.handling.mode"), "interval.handling.mode"), "warn");
  assert.equal(statusOf({ ...good, "snapshot.mode": "no_data" }, "snapshot.mode"), "warn");
  assert.equal(statusOf({ ...good, "snapshot.mode": "initial_only" }, "snapshot.mode"), "fail");
  assert.equal(statusOf(without("snapshot.mode"), "snapshot.mode"), "ok", "Debezium's default initial");
});

test("converters: JSON only; the worker's default is unknown; schemaless is a warning", () => {
  const avro = { ...good, "value.converter": "io.confluent.connect.avro.AvroConverter" };
  assert.equal(statusOf(avro, "value.converter"), "fail");
  assert.equal(statusOf(without("key.converter"), "key.converter"), "warn");
  assert.equal(
    statusOf({ ...good, "value.converter.schemas.enable": "false" }, "value.converter.schemas.enable"),
    "warn",
  );
  assert.equal(
    judged(without("value.converter")).get("value.converter.schemas.enable"),
    undefined,
    "the worker's converter settings are not visible",
  );
});

test("engine-specific rules apply to their engine only", () => {
  const mariadb = {
    ...without("interval.handling.mode"),
    "connector.class": "io.debezium.connector.mariadb.MariaDbConnector",
  };
  assert.equal(judged(mariadb).get("interval.handling.mode"), undefined);
  assert.equal(statusOf(mariadb, "bigint.unsigned.handling.mode"), "warn", "Debezium's default long wraps");
  assert.equal(judged(good).get("bigint.unsigned.handling.mode"), undefined);
  assert.equal(sourceEngine("io.debezium.connector.mysql.MySqlConnector"), "mysql");
  assert.equal(sourceEngine("com.example.Other"), undefined);
});

test("the shipped connectors pass every rule, in both apply modes", async () => {
  const vars = new Proxy({} as Record<string, string>, { get: (_, name) => `v_${String(name)}` });
  for (const { name, config } of await loadConnectors(vars)) {
    const source = { transactional: "source", transactionTopic: `${config["topic.prefix"]}.transaction` };
    for (const mode of [shadowdb(), shadowdb({ apply: source })]) {
      const verdicts = judgeConnector({
        engine: sourceEngine(config["connector.class"]),
        shadowdb: mode,
        settings: config,
      });
      assert.deepEqual(
        verdicts.filter((v) => v.status !== "ok").map((v) => `${v.setting}: ${v.status}`),
        [],
        name,
      );
    }
  }
});
