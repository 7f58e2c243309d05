/**
 * `shadowdb resync`'s pieces without the stack: the signal and the notifications as Debezium
 * 3.5.0 wrote them on the local stack (test/fixtures/record-notifications.ts), topic routing,
 * the sweep's locking order and deletes, and the orchestration's typed failures.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { parseConfig } from "../../src/config/index.ts";
import { isShadowdbError } from "../../src/errors.ts";
import { createLogger } from "../../src/log.ts";
import { copyDirect } from "../../src/resync/direct.ts";
import type { ResyncKafka } from "../../src/resync/kafka.ts";
import { resync } from "../../src/resync/resync.ts";
import {
  executeSnapshotSignal,
  parseNotification,
  type SnapshotProgress,
  snapshotProgress,
  sourceOfTopic,
  topicsForTable,
} from "../../src/resync/signal.ts";
import { sweepDeleted } from "../../src/resync/sweep.ts";
import type { KeyReader, QualifiedName, TableShape, TargetTransaction } from "../../src/target/dialect.ts";
import { FakeTarget } from "../support/fake-target.ts";

interface Recorded {
  debezium: string;
  signal: { topic: string; key: string; value: string };
  notifications: { topic: string; offset: string; value: string | null }[];
}

const recorded = (engine: string): Recorded =>
  JSON.parse(
    readFileSync(new URL(`../fixtures/signals/${engine}.json`, import.meta.url), "utf8"),
  ) as Recorded;

const fold = (values: (string | null)[], id: string): SnapshotProgress => {
  let state: SnapshotProgress = { state: "running" };
  for (const value of values) {
    const n = parseNotification(value);
    if (n) state = snapshotProgress(state, n, id);
  }
  return state;
};

for (const engine of ["postgres", "mariadb"]) {
  test(`${engine}: the recorded signal is what executeSnapshotSignal sends, and its notifications complete it`, () => {
    const { signal, notifications } = recorded(engine);
    const { id } = JSON.parse(signal.value) as { id: string };
    const collection = engine === "postgres" ? "public.fx_resync" : "prod.fx_resync";
    const sent = executeSnapshotSignal({ topic: "", prefix: signal.key, collection }, id);
    assert.deepEqual(sent, { id, key: signal.key, value: signal.value });
    const values = notifications.map((n) => n.value);
    assert.deepEqual(fold(values, id), { state: "completed", rows: "3" });
    // Before COMPLETED (the last one) the snapshot still runs, whatever the scan said.
    assert.equal(fold(values.slice(0, -1), id).state, "running");
    // Another snapshot's notifications say nothing about ours.
    assert.deepEqual(fold(values, "another-id"), { state: "running" });
  });
}

test("a table scan Debezium could not do, or an aborted snapshot, fails it", () => {
  const { signal, notifications } = recorded("postgres");
  const { id } = JSON.parse(signal.value) as { id: string };
  // The recorded TABLE_SCAN_COMPLETED with the status Debezium gives a table without a key.
  const values = notifications.map((n) =>
    n.value!.replace('"status":"SUCCEEDED"', '"status":"NO_PRIMARY_KEY"'),
  );
  assert.deepEqual(fold(values, id), {
    state: "failed",
    reason: "Debezium did not scan public.fx_resync: NO_PRIMARY_KEY",
  });
  const aborted = notifications.map((n) => n.value!.replace('"type":"COMPLETED"', '"type":"ABORTED"'));
  assert.equal(fold(aborted, id).state, "failed");
});

test("parseNotification passes over tombstones, non-JSON and other records", () => {
  for (const value of [
    null,
    "",
    "not json",
    "42",
    "null",
    '{"payload":{"id":1}}',
    '{"schema":{},"payload":null}',
  ])
    assert.equal(parseNotification(value), undefined, String(value));
  assert.deepEqual(
    parseNotification(Buffer.from('{"id":"a","aggregate_type":"Incremental Snapshot","type":"STARTED"}')),
    { id: "a", aggregateType: "Incremental Snapshot", type: "STARTED", additionalData: {} },
  );
});

test("sourceOfTopic: the prefix is everything before the last two parts", () => {
  assert.deepEqual(sourceOfTopic("pgprod.public.orders"), {
    topic: "pgprod.public.orders",
    prefix: "pgprod",
    collection: "public.orders",
  });
  assert.equal(sourceOfTopic("eu.prod.shop.orders")?.prefix, "eu.prod");
  for (const topic of ["orders", "public.orders", "a..b", ".a.b"])
    assert.equal(sourceOfTopic(topic), undefined);
});

const config = parseConfig(
  `
kafka: { brokers: "k:9092", groupId: g }
target: { dialect: postgres, url: "postgresql://u@h/shadow" }
http: { port: 0 }
tables:
  - { topic: pg.public.orders, table: public.orders }
  - { topicPattern: '^pg\\.sales\\.(.+)$', table: "sales.$1" }
`,
  "test",
  {},
);

test("topicsForTable finds exact topics and pattern-routed ones, nothing else", () => {
  const cluster = ["pg.sales.items", "pg.sales.returns", "pg.signals", "pg.notifications"];
  assert.deepEqual(
    topicsForTable(config, { schema: "public", name: "orders" }, cluster).map((s) => s.topic),
    ["pg.public.orders"],
  );
  assert.deepEqual(topicsForTable(config, { schema: "sales", name: "items" }, cluster), [
    { topic: "pg.sales.items", prefix: "pg", collection: "sales.items" },
  ]);
  assert.deepEqual(topicsForTable(config, { schema: "sales", name: "gone" }, cluster), []);
  assert.deepEqual(topicsForTable(config, { schema: "public", name: "signals" }, cluster), []);
});

const orders: QualifiedName = { schema: "public", name: "orders" };

/** Keys as text, like the dialects' readers, with the calls in order; each row's note is `n<key>`. */
function keyReader(keys: string[][], calls: string[], name: string): KeyReader {
  const shape: TableShape = {
    name: orders,
    columns: new Map([
      ["order_id", { name: "order_id", sqlType: "integer", nullable: false }],
      ["note", { name: "note", sqlType: "text", nullable: true }],
    ]),
    primaryKey: ["order_id"],
  };
  return {
    describe: async () => shape,
    keys: async (_table, after, limit) => {
      calls.push(`${name}.keys after ${after?.join(",") ?? "-"}`);
      const start = after === undefined ? 0 : keys.findIndex((k) => k[0] === after[0]) + 1;
      return keys.slice(start, start + limit);
    },
    present: async (table, asked) => {
      calls.push(`${name}.present ${table.primaryKey.join(",")} ${asked.map((k) => k[0]).join(",")}`);
      const have = new Set(keys.map((k) => k[0]));
      return new Set(asked.flatMap((k, i) => (have.has(k[0]) ? [i] : [])));
    },
    rows: async (table, columns, after, limit) => {
      calls.push(
        `${name}.rows ${table.primaryKey.join(",")} ${columns.join(",")} after ${after?.join(",") ?? "-"}`,
      );
      const start = after === undefined ? 0 : keys.findIndex((k) => k[0] === after[0]) + 1;
      return keys.slice(start, start + limit).map((k) => ({
        key: k,
        values: columns.map((c) => (c === "note" ? `n${k[0]}` : k[0]!)),
      }));
    },
    close: async () => undefined,
  };
}

/** The fake target, with lockPosition showing in the call log. */
function lockingTarget(calls: string[]): FakeTarget {
  const target = new FakeTarget();
  const transaction = target.transaction.bind(target);
  target.transaction = (work) =>
    transaction((tx: TargetTransaction) =>
      work({
        ...tx,
        lockPosition: async (g, t, p) => {
          calls.push(`lock ${t}[${p}]`);
          return tx.lockPosition(g, t, p);
        },
      }),
    );
  return target;
}

test("the sweep locks the topic's positions before asking production, and deletes only what production lacks", async () => {
  const calls: string[] = [];
  const target = lockingTarget(calls);
  target.defineTable(orders, { id: "integer", note: "text" }, ["id"]);
  const shadowShape = (await target.describe(orders))!;
  const shadowKeys = [["1"], ["2"], ["3"], ["4"], ["5"]];
  const result = await sweepDeleted({
    target,
    table: shadowShape,
    shadow: keyReader(shadowKeys, calls, "shadow"),
    production: keyReader([["1"], ["3"], ["5"], ["6"]], calls, "production"),
    source: orders,
    // Production's order_id is the shadow's id: the sweep asks production by production's name.
    mapping: {
      entry: 0,
      envelope: "debezium" as const,
      table: orders,
      columns: { exclude: [], rename: { order_id: "id" }, mask: {} },
      diff: { ignore: [] },
    },
    groupId: "g",
    positions: [{ topic: "pg.public.orders", partition: 0 }],
    pageSize: 2,
  });
  assert.deepEqual(result, { checked: 5, deleted: 2 });
  assert.deepEqual(calls, [
    "shadow.keys after -",
    "lock pg.public.orders[0]",
    "production.present order_id 1,2",
    "shadow.keys after 2",
    "lock pg.public.orders[0]",
    "production.present order_id 3,4",
    "shadow.keys after 4",
    "lock pg.public.orders[0]",
    "production.present order_id 5",
  ]);
  const deletes = target
    .committed()
    .flatMap((t) => t.operations.flatMap((o) => (o.op === "write" ? o.write.deletes : [])));
  assert.deepEqual(deletes, [{ id: "2" }, { id: "4" }]);
});

test("the sweep refuses a production table without the shadow's key columns", async () => {
  const target = new FakeTarget();
  target.defineTable(orders, { id: "integer" }, ["id"]);
  await assert.rejects(
    sweepDeleted({
      target,
      table: (await target.describe(orders))!,
      shadow: keyReader([["1"]], [], "shadow"),
      production: keyReader([["1"]], [], "production"),
      source: orders,
      mapping: {
        entry: 0,
        envelope: "debezium" as const,
        table: orders,
        columns: { exclude: [], rename: {}, mask: {} },
        diff: { ignore: [] },
      },
      groupId: "g",
      positions: [],
    }),
    (error) => isShadowdbError(error, "RESYNC_SOURCE") && /has no column id/.test(error.message),
  );
});

/** Kafka as resync sees it: the recorded notifications appear once the signal is sent. */
function fakeKafka(options: { topics: string[]; tableEnd: string; notifications: (string | null)[] }) {
  const sent: { topic: string; key: string; value: string }[] = [];
  const kafka: ResyncKafka = {
    listTopics: async () => options.topics,
    endOffsets: async (topic) => [
      { partition: 0, offset: topic.endsWith(".notifications") ? "7" : options.tableEnd },
    ],
    send: async (topic, message) => {
      sent.push({ topic, key: message.key, value: message.value });
    },
    watch: async (_topic, offsets, onValue, signal) => {
      assert.deepEqual(offsets, [{ partition: 0, offset: "7" }]);
      const { id } = JSON.parse(sent.at(-1)!.value) as { id: string };
      const { signal: recordedSignal } = recorded("postgres");
      const recordedId = (JSON.parse(recordedSignal.value) as { id: string }).id;
      for (const value of options.notifications)
        if (onValue(value === null ? null : Buffer.from(value.replaceAll(recordedId, id)))) return;
      await new Promise((_, reject) => signal.addEventListener("abort", () => reject(signal.reason)));
    },
    close: async () => undefined,
  };
  return { kafka, sent };
}

const log = createLogger("silent");

test("resync signals the connector, waits for the snapshot and for run to apply it", async () => {
  const target = new FakeTarget();
  target.defineTable(orders, { id: "integer" }, ["id"]);
  const { kafka, sent } = fakeKafka({
    topics: ["pg.public.orders", "pg.signals", "pg.notifications"],
    tableEnd: "42",
    notifications: recorded("postgres").notifications.map((n) => n.value),
  });
  let sleeps = 0;
  const report = await resync({
    config,
    table: orders,
    target,
    kafka,
    log,
    timeoutMs: 5_000,
    // run applies the snapshot's events while resync waits.
    sleep: async () => {
      sleeps++;
      await target.transaction((tx) =>
        tx.savePositions("g", [{ topic: "pg.public.orders", partition: 0, offset: "42" }]),
      );
    },
  });
  assert.equal(sent.length, 1);
  assert.equal(sent[0]!.topic, "pg.signals");
  assert.equal(sent[0]!.key, "pg");
  assert.deepEqual(JSON.parse(sent[0]!.value).data, {
    "data-collections": ["public.orders"],
    type: "INCREMENTAL",
  });
  assert.equal(sleeps, 1);
  assert.deepEqual(
    report.topics.map((t) => ({ ...t, signalId: "-" })),
    [
      {
        topic: "pg.public.orders",
        collection: "public.orders",
        signalId: "-",
        rowsScanned: "3",
        appliedThrough: [{ partition: 0, offset: "42" }],
        direct: null,
        sweep: null,
      },
    ],
  );
});

test("resync's typed failures: no signal topic, a failed scan, a stream that does not apply", async () => {
  const target = new FakeTarget();
  target.defineTable(orders, { id: "integer" }, ["id"]);
  const notifications = recorded("postgres").notifications.map((n) => n.value);
  const run = (kafka: ResyncKafka, timeoutMs = 5_000) =>
    resync({ config, table: orders, target, kafka, log, timeoutMs, sleep: async () => undefined });
  await assert.rejects(
    run(fakeKafka({ topics: ["pg.public.orders", "pg.notifications"], tableEnd: "1", notifications }).kafka),
    (error) =>
      isShadowdbError(error, "RESYNC_SIGNAL") && /topic pg\.signals does not exist/.test(error.message),
  );
  const noKey = notifications.map((v) => v!.replace('"status":"SUCCEEDED"', '"status":"NO_PRIMARY_KEY"'));
  const all = ["pg.public.orders", "pg.signals", "pg.notifications"];
  await assert.rejects(run(fakeKafka({ topics: all, tableEnd: "1", notifications: noKey }).kafka), (error) =>
    isShadowdbError(error, "RESYNC_SNAPSHOT_FAILED"),
  );
  await assert.rejects(
    run(fakeKafka({ topics: all, tableEnd: "1", notifications: [] }).kafka, 50),
    (error) => isShadowdbError(error, "RESYNC_TIMEOUT") && /no COMPLETED notification/.test(error.message),
  );
  await assert.rejects(
    run(fakeKafka({ topics: all, tableEnd: "99", notifications }).kafka, 50),
    (error) =>
      isShadowdbError(error, "RESYNC_TIMEOUT") && /did not reach \[0\]@99 \(at none\)/.test(error.message),
  );
  await assert.rejects(
    resync({
      config,
      table: { schema: "public", name: "other" },
      target,
      kafka: fakeKafka({ topics: all, tableEnd: "1", notifications }).kafka,
      log,
      timeoutMs: 50,
    }),
    (error) => isShadowdbError(error, "RESYNC_TABLE_UNMAPPED"),
  );
});

test("--direct reads each page after locking the topic's positions, by production's names, into the target's", async () => {
  const calls: string[] = [];
  const target = lockingTarget(calls);
  target.defineTable(orders, { id: "integer", note: "text" }, ["id"]);
  const mapping = {
    entry: 0,
    envelope: "debezium" as const,
    table: orders,
    columns: { exclude: [], rename: { order_id: "id" }, mask: {} },
    diff: { ignore: [] },
  };
  const result = await copyDirect({
    target,
    table: (await target.describe(orders))!,
    production: keyReader([["1"], ["2"], ["3"]], calls, "production"),
    source: orders,
    mapping,
    groupId: "g",
    positions: [{ topic: "pg.public.orders", partition: 0 }],
    pageSize: 2,
  });
  assert.deepEqual(result, { copied: 3, toCopy: 0, columnsSkipped: [] });
  assert.deepEqual(calls, [
    "lock pg.public.orders[0]",
    "production.rows order_id order_id,note after -",
    "lock pg.public.orders[0]",
    "production.rows order_id order_id,note after 2",
  ]);
  assert.deepEqual(target.rows(orders), [
    { id: "1", note: "n1" },
    { id: "2", note: "n2" },
    { id: "3", note: "n3" },
  ]);
  // Production's values as they are would leak what the mapping masks: refused.
  await assert.rejects(
    copyDirect({
      target,
      table: (await target.describe(orders))!,
      production: keyReader([["1"]], [], "production"),
      source: orders,
      mapping: { ...mapping, columns: { ...mapping.columns, mask: { note: { kind: "null" } } } } as never,
      groupId: "g",
      positions: [],
    }),
    (error) => isShadowdbError(error, "RESYNC_UNSUPPORTED"),
  );
});
