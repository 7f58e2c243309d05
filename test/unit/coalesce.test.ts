/**
 * coalesce: one table's changes of a batch reduced to truncate + deletes + upserts. The reference is
 * a model table (a Map) that takes the changes one by one: truncate clears, delete removes, upsert
 * merges its columns over the stored row (a column absent from an upsert keeps its stored value, as
 * the dialects' ON CONFLICT / ON DUPLICATE KEY updates do) or inserts it. Applying the coalesced
 * result to the same table (truncate, then deletes, then upserts, the dialects' order) must end in
 * the same rows.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import { stringify } from "yaml";
import { coalesce } from "../../src/batch/coalesce.ts";
import { parseConfig, resolveTable } from "../../src/config/index.ts";
import { type KafkaRecord, RecordDecoder, type Row, type Value } from "../../src/decode/index.ts";
import { keyIdentity, type MappedChange, Mapper } from "../../src/map/mapper.ts";

type Table = Map<string, Row>;

const idOf = (row: Row) => keyIdentity([row.id!]);

const upsert = (row: Row): MappedChange => ({ kind: "upsert", keyId: idOf(row), row });
const del = (id: Value): MappedChange => ({ kind: "delete", keyId: keyIdentity([id]), key: { id } });
const truncate: MappedChange = { kind: "truncate" };

/** The model: the changes one by one, in order. */
function applyInOrder(initial: Table, changes: MappedChange[]): Table {
  const table = new Map(initial);
  for (const change of changes) {
    if (change.kind === "truncate") table.clear();
    else if (change.kind === "delete") table.delete(change.keyId);
    else table.set(change.keyId, { ...table.get(change.keyId), ...change.row });
  }
  return table;
}

/** The coalesced result, applied as a dialect does: truncate, then deletes, then upserts. */
function applyCoalesced(initial: Table, changes: MappedChange[]): Table {
  const { truncate, deletes, upserts } = coalesce(changes);
  const table: Table = truncate ? new Map() : new Map(initial);
  for (const key of deletes) table.delete(idOf(key));
  for (const row of upserts) table.set(idOf(row), { ...table.get(idOf(row)), ...row });
  return table;
}

const sorted = (table: Table) => [...table.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));

test("the last state per key wins; keys come out in the order of their last change", () => {
  const result = coalesce([
    upsert({ id: 1, name: "one", qty: 1 }),
    upsert({ id: 2, name: "two", qty: 2 }),
    upsert({ id: 1, name: "one", qty: 10 }),
    upsert({ id: 3, name: "three", qty: 3 }),
    upsert({ id: 1, name: "uno", qty: 11 }),
  ]);
  assert.deepEqual(result, {
    truncate: false,
    deletes: [],
    // In the order of each key's last change.
    upserts: [
      { id: 2, name: "two", qty: 2 },
      { id: 3, name: "three", qty: 3 },
      { id: 1, name: "uno", qty: 11 },
    ],
  });
  assert.deepEqual(coalesce([]), { truncate: false, deletes: [], upserts: [] });
});

test("a truncate drops every change before it and sets truncate; changes after it stay", () => {
  const result = coalesce([
    upsert({ id: 1, name: "one" }),
    del(2),
    truncate,
    upsert({ id: 3, name: "three" }),
    del(4),
  ]);
  assert.deepEqual(result, { truncate: true, deletes: [{ id: 4 }], upserts: [{ id: 3, name: "three" }] });
  assert.deepEqual(coalesce([upsert({ id: 1 }), truncate]), { truncate: true, deletes: [], upserts: [] });
  // A merge never reaches across a truncate.
  assert.deepEqual(coalesce([upsert({ id: 1, name: "old", qty: 1 }), truncate, upsert({ id: 1, qty: 2 })]), {
    truncate: true,
    deletes: [],
    upserts: [{ id: 1, qty: 2 }],
  });
});

test("deletes come out apart from upserts (applied first), each in the order of its key's last change", () => {
  const result = coalesce([
    upsert({ id: 1, name: "one" }),
    del(7),
    upsert({ id: 2, name: "two" }),
    del(5),
    del(7),
  ]);
  assert.deepEqual(result.deletes, [{ id: 5 }, { id: 7 }]);
  assert.deepEqual(result.upserts, [
    { id: 1, name: "one" },
    { id: 2, name: "two" },
  ]);
});

test("an upsert that omits columns (TOAST) is merged over an earlier upsert of the same key", () => {
  const result = coalesce([
    upsert({ id: 1, small: 1, big_text: "large", big_bytea: Buffer.from([1, 2]) }),
    upsert({ id: 1, small: 2 }),
    upsert({ id: 2, small: 5 }),
  ]);
  assert.deepEqual(result.upserts, [
    { id: 1, small: 2, big_text: "large", big_bytea: Buffer.from([1, 2]) },
    { id: 2, small: 5 },
  ]);
  // Columns the later upsert sets win, null included.
  assert.deepEqual(coalesce([upsert({ id: 1, a: "x", b: "y" }), upsert({ id: 1, a: null })]).upserts, [
    { id: 1, a: null, b: "y" },
  ]);
});

test("upsert then delete of one key: only the delete remains", () => {
  assert.deepEqual(coalesce([upsert({ id: 1, name: "one" }), upsert({ id: 1, qty: 2 }), del(1)]), {
    truncate: false,
    deletes: [{ id: 1 }],
    upserts: [],
  });
});

test("delete then upsert of one key: the stored row is replaced, not merged into", () => {
  // The stored row has columns the new upsert does not carry (a column the events do not carry,
  // an excluded column): after DELETE + INSERT they are gone (defaults), not the old values.
  const stored: Table = new Map([[keyIdentity([1]), { id: 1, name: "old", note: "stored" }]]);
  const changes = [del(1), upsert({ id: 1, name: "new" })];
  assert.deepEqual(sorted(applyInOrder(stored, changes)), [[keyIdentity([1]), { id: 1, name: "new" }]]);
  assert.deepEqual(sorted(applyCoalesced(stored, changes)), sorted(applyInOrder(stored, changes)));
  // The upsert itself is not merged with anything before the delete.
  assert.deepEqual(
    coalesce([upsert({ id: 1, name: "a", qty: 1 }), del(1), upsert({ id: 1, name: "b" })]).upserts,
    [{ id: 1, name: "b" }],
  );
});

test("keys are told apart by identity: 1, '1' and 1n are three keys", () => {
  const result = coalesce([
    { kind: "upsert", keyId: keyIdentity([1]), row: { id: 1, v: "number" } },
    { kind: "upsert", keyId: keyIdentity(["1"]), row: { id: "1", v: "string" } },
    { kind: "upsert", keyId: keyIdentity([1n]), row: { id: 1n, v: "bigint" } },
  ]);
  assert.equal(result.upserts.length, 3);
});

// ---- property: coalesce(changes) applied == changes applied one by one --------------------------

const ids = fc.constantFrom<Value>(1, 2, 3, 4);
const cell = fc.oneof(fc.integer({ min: -3, max: 3 }), fc.constantFrom<Value>("a", "b", "", null));
const fullRow = (id: Value) => fc.record({ a: cell, b: cell, c: cell }).map((cols): Row => ({ id, ...cols }));
/** Any subset of the non-key columns: TOAST and excluded columns leave some out. */
const partialRow = ids.chain((id) =>
  fc.record({ a: cell, b: cell, c: cell }, { requiredKeys: [] }).map((cols): Row => ({ id, ...cols })),
);
const change: fc.Arbitrary<MappedChange> = fc.oneof(
  { weight: 6, arbitrary: partialRow.map(upsert) },
  { weight: 3, arbitrary: ids.map(del) },
  { weight: 1, arbitrary: fc.constant(truncate) },
);
const initialTable: fc.Arbitrary<Table> = fc
  .uniqueArray(ids, { maxLength: 4 })
  .chain((keys) => fc.tuple(...keys.map(fullRow)))
  .map((rows) => new Map(rows.map((row) => [idOf(row), row])));

test("property: from an empty table, the coalesced batch ends where the changes one by one end", () => {
  fc.assert(
    fc.property(fc.array(change, { maxLength: 30 }), (changes) => {
      assert.deepEqual(sorted(applyCoalesced(new Map(), changes)), sorted(applyInOrder(new Map(), changes)));
    }),
    { numRuns: 500 },
  );
});

test("property: over any stored rows, the coalesced batch ends where the changes one by one end", () => {
  fc.assert(
    fc.property(initialTable, fc.array(change, { maxLength: 30 }), (initial, changes) => {
      assert.deepEqual(sorted(applyCoalesced(initial, changes)), sorted(applyInOrder(initial, changes)));
    }),
    { numRuns: 500 },
  );
});

test("property: a key appears at most once among the deletes and at most once among the upserts", () => {
  fc.assert(
    fc.property(fc.array(change, { maxLength: 30 }), (changes) => {
      const { deletes, upserts } = coalesce(changes);
      const upserted = upserts.map(idOf);
      assert.equal(new Set(upserted).size, upserted.length);
      const deleted = deletes.map(idOf);
      assert.equal(new Set(deleted).size, deleted.length);
    }),
  );
});

// ---- recorded batches, through the real decoder and mapper ---------------------------------------

const recorded = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../fixtures/recorded");

function mappedChanges(file: string): MappedChange[] {
  const fixture = JSON.parse(readFileSync(path.join(recorded, file), "utf8")) as {
    table: string;
    messages: (Omit<KafkaRecord, "key" | "value" | "headers"> & {
      key: string | null;
      value: string | null;
      headers: { key: string; value: string | null }[];
    })[];
  };
  const topic = fixture.messages.find((m) => m.topic.endsWith(fixture.table))!.topic;
  const config = parseConfig(
    stringify({
      kafka: { brokers: "a:1", groupId: "g" },
      target: { dialect: "postgres", url: "postgres://h/shadow" },
      tables: [{ topic, table: "public.t" }],
      http: { port: 0 },
    }),
    "t.yaml",
    {},
  );
  const mapper = new Mapper(resolveTable(config, topic)!);
  const decoder = new RecordDecoder();
  const out: MappedChange[] = [];
  for (const m of fixture.messages.filter((m) => m.topic === topic)) {
    const event = decoder.decode({
      ...m,
      key: m.key === null ? null : Buffer.from(m.key),
      value: m.value === null ? null : Buffer.from(m.value),
      headers: Object.fromEntries(m.headers.map((h) => [h.key, h.value ?? undefined])),
    });
    if (event.op === "c" || event.op === "u" || event.op === "r" || event.op === "d" || event.op === "t")
      out.push(mapper.map(event));
  }
  return out;
}

test("recorded TOAST update: the insert and the update coalesce into the full row with the new value", () => {
  const changes = mappedChanges("postgres/default/toast.json");
  const { truncate, deletes, upserts } = coalesce(changes);
  assert.equal(truncate, false);
  assert.deepEqual(deletes, []);
  assert.equal(upserts.length, 1);
  const first = (changes[0] as Extract<MappedChange, { kind: "upsert" }>).row;
  assert.deepEqual(upserts[0], { ...first, small: 2 });
  assert.deepEqual(Object.keys(upserts[0]!).sort(), Object.keys(first).sort());
});

test("recorded truncate: only the insert after the TRUNCATE remains", () => {
  for (const engine of ["postgres", "mariadb"]) {
    const { truncate, deletes, upserts } = coalesce(mappedChanges(`${engine}/default/truncate.json`));
    assert.equal(truncate, true, engine);
    assert.deepEqual(deletes, [], engine);
    assert.deepEqual(
      upserts.map((r) => [r.id, r.note]),
      [[3, "after truncate"]],
      engine,
    );
  }
});

test("recorded delete and primary-key change: deletes and upserts per key", () => {
  for (const engine of ["postgres", "mariadb"]) {
    const del = coalesce(mappedChanges(`${engine}/default/delete.json`));
    assert.deepEqual(del.deletes, [{ id: 2 }], engine);
    assert.deepEqual(
      del.upserts.map((r) => r.id),
      [1, 3],
      engine,
    );
    const pk = coalesce(mappedChanges(`${engine}/default/pk-change.json`));
    assert.deepEqual(pk.deletes, [{ id: 1 }], engine);
    assert.deepEqual(
      pk.upserts.map((r) => [r.id, r.name, r.qty]),
      [
        [2, "two", 2],
        [10, "one", 11],
      ],
      engine,
    );
  }
});

test("recorded updates: coalesced the same as applied one by one, on both engines", () => {
  for (const engine of ["postgres", "mariadb"]) {
    const changes = mappedChanges(`${engine}/default/update.json`);
    assert.deepEqual(sorted(applyCoalesced(new Map(), changes)), sorted(applyInOrder(new Map(), changes)));
    assert.equal(coalesce(changes).upserts.length, 3, engine);
  }
});
