/**
 * SourceTransactions: recorded multi-table transactions (the control fixtures) fed in the orders
 * Kafka may deliver them, and synthetic items for the cases a recording cannot stage.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { Item } from "../../src/batch/items.ts";
import { prepareItems } from "../../src/batch/items.ts";
import { heldCost, SourceTransactions } from "../../src/batch/source-transactions.ts";
import { type KafkaRecord, RecordDecoder } from "../../src/decode/index.ts";
import { readFixture, toRecord } from "../support/fixtures.ts";

const offsets = (items: Item[]) => items.map((i) => `${i.record.topic}@${i.record.offset}`);

for (const engine of ["postgres", "mariadb"] as const) {
  test(`${engine}: a recorded two-table transaction is held until both tables and END have arrived`, () => {
    const fx = readFixture(`${engine}/default/control.json`);
    const byTopic = new Map<string, KafkaRecord[]>();
    for (const m of fx.messages) {
      if (m.topic.startsWith("__debezium-heartbeat")) continue;
      byTopic.set(m.topic, [...(byTopic.get(m.topic) ?? []), toRecord(m)]);
    }
    const topics = [...byTopic.keys()];
    const tableA = topics.find((t) => t.endsWith("fx_control_a"))!;
    const tableB = topics.find((t) => t.endsWith("fx_control_b"))!;
    const txTopic = topics.find((t) => t.endsWith(".transaction"))!;
    const decoder = new RecordDecoder();
    // Marks only: the mapper plays no part in grouping.
    const items = (topic: string) => prepareItems(byTopic.get(topic)!, decoder);
    const all = [...items(tableA), ...items(tableB), ...items(txTopic)];
    const dataEvents = all.filter((i) => i.transaction?.collection).length;
    assert.equal(dataEvents, 4, "three events in a, one in b, each marked with its transaction");

    // Kafka may deliver the partitions in any order; only the last one completes the transaction.
    for (const order of [
      [tableA, txTopic, tableB],
      [txTopic, tableB, tableA],
      [tableB, tableA, txTopic],
    ]) {
      const held = new SourceTransactions({ consumes: () => true, timeoutMs: 60_000 });
      const early: Item[] = [];
      for (const topic of order.slice(0, -1)) {
        held.add(items(topic));
        early.push(...held.take().items);
      }
      // BEGIN carries no rows and goes at once; nothing of the transaction does.
      assert.deepEqual(
        early.map((i) => i.transaction),
        early.map(() => undefined),
        `nothing of the transaction before ${order.at(-1)} arrives`,
      );
      held.add(items(order.at(-1)!));
      const { items: taken, givenUp } = held.take();
      assert.deepEqual(givenUp, []);
      assert.deepEqual(offsets([...early, ...taken]).sort(), offsets(all).sort());
      assert.equal(held.size, 0);
      assert.deepEqual(held.waiting(), []);
    }
  });
}

let nextOffset = 0;
function item(
  topic: string,
  group?: string,
  mark: { collection?: string; counts?: Record<string, number> } = {},
): Item {
  const record: KafkaRecord = {
    topic,
    partition: 0,
    offset: String(nextOffset++),
    key: null,
    value: null,
    headers: {},
  };
  if (group === undefined) return { record };
  const counts = mark.counts && new Map(Object.entries(mark.counts));
  return { record, transaction: { group, collection: mark.collection, counts } };
}
const data = (table: string, group: string) => item(`src.${table}`, group, { collection: table });
const end = (group: string, counts: Record<string, number>) => item("src.transaction", group, { counts });

test("records without a transaction pass at once; a transaction's records wait for its END", () => {
  const held = new SourceTransactions({ consumes: () => true, timeoutMs: 60_000 });
  const snapshot = [item("src.a"), item("src.a")];
  held.add(snapshot);
  const t1 = data("a", "t1");
  held.add([t1]);
  assert.deepEqual(held.take().items, snapshot);
  const e1 = end("t1", { a: 1 });
  held.add([e1]);
  assert.deepEqual(held.take().items, [t1, e1]);
});

test("a later transaction waits behind an earlier incomplete one, and a complete earlier one goes ahead", () => {
  const held = new SourceTransactions({ consumes: () => true, timeoutMs: 60_000 });
  const t0a = data("a", "t0");
  const t1a = data("a", "t1");
  const t2a = data("a", "t2");
  held.add([t0a, t1a, t2a]);
  const ends = [end("t0", { a: 1 }), end("t1", { a: 1, b: 1 }), end("t2", { a: 1 })];
  held.add(ends);
  // t1 lacks its event in b: t0 goes; t2 is complete but behind t1 in a and in the END topic.
  assert.deepEqual(held.take().items, [t0a, ends[0]]);
  assert.deepEqual(held.waiting(), [
    { group: "t1", missing: { b: 1 } },
    { group: "t2", missing: {} },
  ]);
  const t1b = data("b", "t1");
  held.add([t1b]);
  assert.deepEqual(offsets(held.take().items).sort(), offsets([t1a, t2a, ends[1]!, ends[2]!, t1b]).sort());
});

test("part of a complete transaction is never taken while another of its partitions is held back", () => {
  const held = new SourceTransactions({ consumes: () => true, timeoutMs: 60_000 });
  // b: t0 (incomplete: lacks c), then t1; a: t1 only. t1 is complete but its b event sits behind t0.
  const t0b = data("b", "t0");
  const t1b = data("b", "t1");
  const t1a = data("a", "t1");
  held.add([t0b, t1b]);
  held.add([t1a]);
  held.add([end("t0", { b: 1, c: 1 }), end("t1", { a: 1, b: 1 })]);
  assert.deepEqual(held.take().items, [], "t1's event in a waits with its event in b");
});

test("collections this consumer does not read are not waited for", () => {
  const held = new SourceTransactions({ consumes: (c) => c !== "other", timeoutMs: 60_000 });
  const t1 = data("a", "t1");
  const e1 = end("t1", { a: 1, other: 5 });
  held.add([t1, e1]);
  assert.deepEqual(held.take(), { items: [t1, e1], givenUp: [] });
});

test("an event that never comes is given up on once its table moves on to a later transaction", () => {
  const held = new SourceTransactions({ consumes: () => true, timeoutMs: 60_000 });
  // t1's event in b failed to decode: it is a record without a transaction.
  const broken = item("src.b");
  const t1a = data("a", "t1");
  held.add([t1a, broken]);
  held.add([end("t1", { a: 1, b: 1 })]);
  assert.deepEqual(offsets(held.take().items), offsets([broken]));
  const t2b = data("b", "t2");
  held.add([t2b]);
  assert.deepEqual(held.take().items, [], "t2's END has not arrived: its order is unknown");
  held.add([end("t2", { b: 1 })]);
  const { items, givenUp } = held.take();
  assert.equal(items.length, 4);
  assert.deepEqual(givenUp, [{ group: "t1", missing: { b: 1 } }]);
});

test("in a table that stays quiet, a missing event is given up on after the timeout", () => {
  let now = 1_000;
  const held = new SourceTransactions({ consumes: () => true, timeoutMs: 5_000, now: () => now });
  const t1a = data("a", "t1");
  const e1 = end("t1", { a: 1, b: 1 });
  held.add([t1a, e1]);
  now += 4_999;
  assert.deepEqual(held.take().items, []);
  now += 1;
  assert.deepEqual(held.take(), { items: [t1a, e1], givenUp: [{ group: "t1", missing: { b: 1 } }] });
  // A straggler of a finished transaction is not mistaken for a new one.
  const late = data("b", "t1");
  held.add([late]);
  assert.deepEqual(held.take().items, [late]);
});

test("events whose END never comes are given up on when a later transaction in their partition ends", () => {
  const held = new SourceTransactions({ consumes: () => true, timeoutMs: 60_000 });
  const orphan = data("a", "t0");
  const t1 = data("a", "t1");
  const e1 = end("t1", { a: 1 });
  held.add([orphan]);
  assert.deepEqual(held.take().items, []);
  held.add([t1, e1]);
  const { items, givenUp } = held.take();
  assert.deepEqual(items, [orphan, t1, e1]);
  assert.deepEqual(
    givenUp.map((g) => [g.group, Object.keys(g.missing)]),
    [["t0", ["a"]]],
  );
});

test("events whose END never comes are given up on after the timeout in a quiet table", () => {
  let now = 0;
  const held = new SourceTransactions({ consumes: () => true, timeoutMs: 5_000, now: () => now });
  const orphan = data("a", "t0");
  held.add([orphan]);
  now = 4_999;
  assert.deepEqual(held.take().items, []);
  now = 5_000;
  assert.deepEqual(held.take().items, [orphan]);
});

test("clear forgets what is held", () => {
  const held = new SourceTransactions({ consumes: () => true, timeoutMs: 60_000 });
  held.add([data("a", "t1"), item("src.b")]);
  held.clear();
  assert.equal(held.size, 0);
  assert.deepEqual(held.take().items, []);
});

test("a transaction of 250k events is taken whole, without a spread overflowing the stack", () => {
  const held = new SourceTransactions({ consumes: () => true, timeoutMs: 60_000 });
  const events = Array.from({ length: 250_000 }, () => data("a", "big"));
  held.add(events);
  assert.deepEqual(held.take().items, []);
  held.add([end("big", { a: events.length })]);
  const { items, givenUp } = held.take();
  assert.equal(items.length, events.length + 1);
  assert.deepEqual(givenUp, []);
  assert.equal(held.heldBytes, 0);
});

test("held bytes count each item's record bytes and come back to 0 as items are taken", () => {
  const held = new SourceTransactions({ consumes: () => true, timeoutMs: 60_000 });
  const sized = (bytes: number, group?: string) => {
    const it = group === undefined ? item("src.a") : data("a", group);
    it.record.value = Buffer.alloc(bytes);
    return it;
  };
  const a = sized(3000, "t1");
  const b = sized(12_000, "t1");
  held.add([a, b]);
  assert.equal(held.heldBytes, heldCost(a) + heldCost(b));
  // The record's bytes, plus the decoded change (measured 0.25-0.31 of them), plus a fixed part.
  assert.ok(heldCost(a) >= 3000 * 1.3 && heldCost(a) <= 3000 * 1.5 + 1024, `${heldCost(a)}`);
  held.add([end("t1", { a: 2 })]);
  assert.equal(held.take().items.length, 3);
  assert.equal(held.heldBytes, 0);
  held.add([sized(100, "t2")]);
  held.clear();
  assert.equal(held.heldBytes, 0);
});

test("released transactions are counted without being held, and settle once complete", () => {
  let now = 0;
  const held = new SourceTransactions({ consumes: () => true, timeoutMs: 5_000, now: () => now });
  const early = [data("a", "t1"), data("a", "t1")];
  held.add(early);
  const { items, groups } = held.release();
  assert.deepEqual(items, early);
  assert.deepEqual([...groups], ["t1"]);
  assert.equal(held.heldBytes, 0);
  assert.equal(held.size, 0);
  assert.ok(held.awaitsEnd("t1"));
  // A transaction still arriving is not given up on, however long it takes.
  for (let i = 0; i < 10; i++) {
    now += 4_000;
    held.note(data("a", "t1"));
    assert.equal(held.settled(groups), undefined);
  }
  held.note(end("t1", { a: 12, b: 1 }));
  assert.ok(!held.awaitsEnd("t1"));
  held.note(data("b", "t1"));
  assert.deepEqual(held.settled(groups), []);
  assert.ok(!held.isFinished("t1"), "finished only once committed");
  held.finish(groups);
  assert.ok(held.isFinished("t1"));
  assert.deepEqual(held.waiting(), []);
});

test("a released transaction missing an event is given up on after the timeout since its last event", () => {
  let now = 0;
  const held = new SourceTransactions({ consumes: () => true, timeoutMs: 5_000, now: () => now });
  held.add([data("a", "t1")]);
  const { groups } = held.release();
  held.note(end("t1", { a: 1, b: 1 }));
  now = 4_999;
  assert.equal(held.settled(groups), undefined);
  now = 5_000;
  assert.deepEqual(held.settled(groups), [{ group: "t1", missing: { b: 1 } }]);
});

test("an END read far ahead is not given up while its table still delivers an earlier transaction", () => {
  let now = 0;
  const held = new SourceTransactions({ consumes: () => true, timeoutMs: 5_000, now: () => now });
  // The metadata topic is small and read ahead: t2's END long before t1's events are all in.
  held.add([data("a", "t1")]);
  held.add([end("t1", { a: 3 }), end("t2", { a: 1 })]);
  for (let i = 0; i < 2; i++) {
    now += 4_000;
    held.add([data("a", "t1")]);
  }
  const { items, givenUp } = held.take();
  assert.equal(items.length, 4, "t1 complete: its three events and its END");
  assert.deepEqual(givenUp, [], "t2's table was busy with t1: not quiet");
  assert.deepEqual(held.waiting(), [{ group: "t2", missing: { a: 1 } }]);
  now += 4_999;
  assert.deepEqual(held.take().items, []);
  now += 1;
  assert.deepEqual(held.take().givenUp, [{ group: "t2", missing: { a: 1 } }]);
});
