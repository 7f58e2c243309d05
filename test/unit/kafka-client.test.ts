/**
 * The kafkajs client shadowdb makes: its producers name a partitioner, so kafkajs's "switched
 * default partitioner" warning never reaches the log. (kafkajs warns once per process, so the
 * client from the config goes first and a plain client shows the warning is still there to see.)
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { Kafka, logLevel } from "kafkajs";
import { parseConfig } from "../../src/config/index.ts";
import { createLogger } from "../../src/log.ts";
import { kafkaFromConfig } from "../../src/source/kafka.ts";

const config = parseConfig(
  [
    "kafka: { brokers: [ '127.0.0.1:1' ], groupId: g }",
    "target: { dialect: postgres, url: 'postgres://u:p@127.0.0.1:1/db' }",
    "tables: [ { topic: t, table: public.orders } ]",
    "http: { port: 0 }",
  ].join("\n"),
  "test",
);

test("producers of the client from the config do not log kafkajs's partitioner warning", () => {
  delete process.env.KAFKAJS_NO_PARTITIONER_WARNING;
  const lines: string[] = [];
  const log = createLogger("debug", { write: (line: string) => void lines.push(line) });
  kafkaFromConfig(config, log).producer({ allowAutoTopicCreation: false });
  kafkaFromConfig(config, log).producer();
  assert.deepEqual(
    lines.filter((line) => /partitioner/i.test(line)),
    [],
  );

  const warnings: string[] = [];
  new Kafka({
    brokers: ["127.0.0.1:1"],
    logLevel: logLevel.WARN,
    logCreator: () => (entry) => void warnings.push(entry.log.message),
  }).producer();
  assert.match(warnings.join("\n"), /switched default partitioner/);
});
