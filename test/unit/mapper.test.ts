/**
 * Mapper: decoded events (from messages recorded on the real stack) → changes named and shaped for
 * the target table, by the config's mapping (parsed from YAML like a user's file).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { stringify } from "yaml";
import { parseConfig, resolveTable } from "../../src/config/index.ts";
import {
  type ChangeEvent,
  type KafkaRecord,
  RecordDecoder,
  type RowChange,
  UNCHANGED,
} from "../../src/decode/index.ts";
import { isShadowdbError } from "../../src/errors.ts";
import { keyIdentity, type MappedChange, Mapper } from "../../src/map/mapper.ts";
import { mask } from "../../src/map/mask.ts";
import { readFixture, tableRecords } from "../support/fixtures.ts";

const hmacKey = "a-masking-key-of-32-characters!!";

/** The fixture's records on its table's topic, as kafkajs would hand them over. */
function records(file: string): KafkaRecord[] {
  return tableRecords(readFixture(file));
}

function decode(file: string): ChangeEvent[] {
  const decoder = new RecordDecoder();
  return records(file).map((r) => decoder.decode(r));
}

function rowChanges(file: string, op?: RowChange["op"]): RowChange[] {
  return decode(file).filter(
    (e): e is RowChange =>
      (e.op === "c" || e.op === "u" || e.op === "r" || e.op === "d") && (!op || e.op === op),
  );
}

/** A Mapper for the fixture's topic, with `entry` as the tables[0] entry (besides topic and table). */
function mapperFor(file: string, entry: Record<string, unknown> = {}): Mapper {
  const topic = records(file)[0]!.topic;
  const config = parseConfig(
    stringify({
      kafka: { brokers: "a:1", groupId: "g" },
      target: { dialect: "postgres", url: "postgres://h/shadow" },
      tables: [{ topic, table: "public.shadow_t", ...entry }],
      masking: { key: hmacKey },
      http: { port: 0 },
    }),
    "t.yaml",
    {},
  );
  const mapping = resolveTable(config, topic);
  assert.ok(mapping);
  return new Mapper(mapping, config.masking.key);
}

function upsertOf(change: MappedChange) {
  assert.equal(change.kind, "upsert");
  return change as Extract<MappedChange, { kind: "upsert" }>;
}

function deleteOf(change: MappedChange) {
  assert.equal(change.kind, "delete");
  return change as Extract<MappedChange, { kind: "delete" }>;
}

function throwsCode(fn: () => unknown, code: "MAP_NO_KEY" | "MAP_KEY_COLUMN_MISSING", message: RegExp) {
  assert.throws(fn, (error: unknown) => {
    assert.ok(isShadowdbError(error, code), String(error));
    assert.match(error.message, message);
    assert.equal(error.retriable, false);
    return true;
  });
}

test("without column rules a create maps to an upsert of the whole row keyed by the message key", () => {
  for (const engine of ["postgres", "mariadb"]) {
    const file = `${engine}/default/update.json`;
    const mapper = mapperFor(file);
    const [first] = rowChanges(file, "c");
    assert.deepEqual(mapper.map(first!), {
      kind: "upsert",
      keyId: keyIdentity([1]),
      row: { id: 1, name: "one", qty: 1, note: "first" },
    });
    assert.deepEqual(mapper.keyColumns(first!), ["id"]);
  }
});

test("without column rules the upsert row is the event's own row; any rule gets a row of its own", () => {
  const file = "postgres/default/update.json";
  const [first] = rowChanges(file, "c");
  assert.equal(upsertOf(mapperFor(file).map(first!)).row, first!.after);
  for (const columns of [
    { rename: { name: "full_name" } },
    { exclude: ["note"] },
    { mask: { note: { strategy: "redact" } } },
  ]) {
    const row = upsertOf(mapperFor(file, { columns }).map(first!)).row;
    assert.notEqual(row, first!.after, JSON.stringify(columns));
    assert.equal(first!.after!.note, "first", "the event's row is left as decoded");
  }
});

test("columns.rename and columns.exclude route each column; the event's columns follow the same rules", () => {
  const file = "postgres/default/update.json";
  const mapper = mapperFor(file, { columns: { rename: { name: "full_name" }, exclude: ["note"] } });
  const events = rowChanges(file);
  assert.equal(mapper.targetName("name"), "full_name");
  assert.equal(mapper.targetName("note"), undefined);
  assert.equal(mapper.targetName("qty"), "qty");
  assert.deepEqual(upsertOf(mapper.map(events[0]!)).row, { id: 1, full_name: "one", qty: 1 });
  assert.deepEqual(
    mapper.targetColumns(events[0]!.columns).map((c) => [c.name, c.type.kind]),
    [
      ["id", "int32"],
      ["full_name", "string"],
      ["qty", "int32"],
    ],
  );
  // Every row of the batch: no excluded column, no source name of a renamed one.
  for (const event of events) {
    const row = upsertOf(mapper.map(event)).row;
    assert.ok(!("note" in row) && !("name" in row) && "full_name" in row, JSON.stringify(row));
  }
});

test("a renamed key column is renamed in upsert rows and in delete keys; the identity is the value's", () => {
  const mapper = mapperFor("postgres/default/delete.json", { columns: { rename: { id: "ident" } } });
  const [create] = rowChanges("postgres/default/delete.json", "c");
  const [remove] = rowChanges("postgres/default/delete.json", "d");
  assert.deepEqual(mapper.map(create!), {
    kind: "upsert",
    keyId: keyIdentity([1]),
    row: { ident: 1, name: "one", qty: 1, note: "first" },
  });
  assert.deepEqual(mapper.map(remove!), { kind: "delete", keyId: keyIdentity([2]), key: { ident: 2 } });
  // keyColumns names source columns; targetColumns renames.
  assert.deepEqual(mapper.keyColumns(remove!), ["id"]);
  assert.equal(mapper.targetColumns(remove!.columns)[0]?.name, "ident");
});

test("masking is applied to values with the column's event type; unmasked values pass as decoded", () => {
  const file = "postgres/default/alltypes-snapshot.json";
  const rules = {
    c_text: { strategy: "hash" },
    c_integer: { strategy: "hash" },
    c_bytea: { strategy: "redact" },
    c_varchar: { strategy: "constant", value: "masked" },
    c_uuid: { strategy: "null" },
  };
  const mapper = mapperFor(file, { columns: { mask: rules, rename: { c_text: "text_renamed" } } });
  const events = rowChanges(file, "r");
  const event = events.find((e) => e.after?.c_text === "Grüße — 日本語 — 😀👍🏽")!;
  assert.ok(event, "row 2 of the snapshot");
  const after = event.after!;
  const type = (name: string) => event.columns.find((c) => c.name === name)!.type;
  const row = upsertOf(mapper.map(event)).row;

  assert.equal(row.text_renamed, mask(after.c_text!, { strategy: "hash" }, type("c_text"), hmacKey));
  assert.match(String(row.text_renamed), /^[0-9a-f]{64}$/);
  assert.equal(row.c_integer, mask(after.c_integer!, { strategy: "hash" }, type("c_integer"), hmacKey));
  assert.ok(Number.isInteger(row.c_integer) && (row.c_integer as number) >= 0, String(row.c_integer));
  assert.deepEqual(row.c_bytea, Buffer.from("[redacted]"));
  assert.equal(row.c_varchar, "masked");
  assert.equal(row.c_uuid, null);
  for (const [column, value] of Object.entries(after)) {
    if (column in rules) continue;
    assert.deepEqual(row[column], value, column);
  }
  // A null stays null whatever the rule.
  const empty = events.find((e) => e.after?.c_text === null && e.after?.c_varchar === null)!;
  const nullRow = upsertOf(mapper.map(empty)).row;
  assert.equal(nullRow.text_renamed, null);
  assert.equal(nullRow.c_varchar, null);
});

test("a hashed key column is masked in rows and in delete keys alike, so one key stays one key", () => {
  const file = "postgres/default/delete.json";
  const mapper = mapperFor(file, { columns: { mask: { id: { strategy: "hash" } } } });
  const creates = rowChanges(file, "c").map((e) => upsertOf(mapper.map(e)));
  const [remove] = rowChanges(file, "d");
  const deleted = deleteOf(mapper.map(remove!));

  const hashedIds = creates.map((c) => c.row.id);
  for (const id of hashedIds) assert.ok(typeof id === "number" && id >= 0 && id <= 2 ** 31 - 1, String(id));
  assert.equal(new Set(hashedIds).size, 3, "distinct ids stay distinct");
  assert.notDeepEqual(hashedIds, [1, 2, 3], "the ids are not passed in clear");
  for (const c of creates) assert.equal(c.keyId, keyIdentity([c.row.id!]));
  // The delete of id 2 carries the same masked key as the create of id 2.
  assert.deepEqual(deleted.key, { id: creates[1]!.row.id });
  assert.equal(deleted.keyId, creates[1]!.keyId);
  // The masked key is in the row exactly once, with the masked value (no clear id under another name).
  assert.deepEqual(Object.keys(creates[0]!.row).sort(), ["id", "name", "note", "qty"]);
});

test("the TOAST marker is removed from upsert rows: unchanged columns are left out", () => {
  const file = "postgres/default/toast.json";
  const mapper = mapperFor(file);
  const [create, update] = rowChanges(file);
  assert.equal(update!.op, "u");
  assert.ok(Object.values(update!.after!).includes(UNCHANGED), "the recording has TOAST placeholders");
  const row = upsertOf(mapper.map(update!)).row;
  assert.deepEqual(row, { id: 1, small: 2 });
  // The create carries everything.
  const full = upsertOf(mapper.map(create!)).row;
  assert.deepEqual(Object.keys(full).sort(), [
    "big_bytea",
    "big_jsonb",
    "big_text",
    "big_text_array",
    "id",
    "small",
  ]);
  assert.ok(Buffer.isBuffer(full.big_bytea));
  // Masking never turns the marker into a value.
  const masked = mapperFor(file, {
    columns: { mask: { big_text: { strategy: "hash" }, big_bytea: { strategy: "constant", value: "x" } } },
  });
  assert.deepEqual(upsertOf(masked.map(update!)).row, { id: 1, small: 2 });
});

test("with REPLICA IDENTITY FULL the update carries every column", () => {
  const file = "postgres/default/toast-full.json";
  const [, update] = rowChanges(file);
  const row = upsertOf(mapperFor(file).map(update!)).row;
  assert.deepEqual(Object.keys(row).sort(), [
    "big_bytea",
    "big_jsonb",
    "big_text",
    "big_text_array",
    "id",
    "small",
  ]);
  assert.equal(row.small, 2);
});

test("a delete takes its key from the message key, or from `before` for configured key columns", () => {
  // PostgreSQL, REPLICA IDENTITY DEFAULT: `before` holds the key; the message key gives its column.
  const pg = rowChanges("postgres/default/delete.json", "d")[0]!;
  assert.deepEqual(mapperFor("postgres/default/delete.json").map(pg), {
    kind: "delete",
    keyId: keyIdentity([2]),
    key: { id: 2 },
  });
  // MariaDB sends the full `before`: a configured key that is not the message key comes from it.
  const file = "mariadb/default/delete.json";
  const my = rowChanges(file, "d")[0]!;
  assert.deepEqual(my.key, { id: 2 });
  assert.deepEqual(mapperFor(file, { key: ["name"] }).map(my), {
    kind: "delete",
    keyId: keyIdentity(["two"]),
    key: { name: "two" },
  });
  assert.deepEqual(mapperFor(file, { key: ["id", "name"] }).map(my), {
    kind: "delete",
    keyId: keyIdentity([2, "two"]),
    key: { id: 2, name: "two" },
  });
  // The same configured key on the creates: the upsert's identity matches the delete's.
  const creates = rowChanges(file, "c").map((e) => mapperFor(file, { key: ["id", "name"] }).map(e));
  assert.equal(upsertOf(creates[1]!).keyId, keyIdentity([2, "two"]));
});

test("a record without a message key (keyless table) is MAP_NO_KEY unless `key` is configured", () => {
  const file = "postgres/default/delete.json";
  const decoder = new RecordDecoder();
  const keyless = records(file).map((r) => decoder.decode({ ...r, key: null }));
  const create = keyless[0] as RowChange;
  const remove = keyless.find((e) => e.op === "d") as RowChange;
  assert.deepEqual(create.keyColumns, []);

  const plain = mapperFor(file);
  throwsCode(() => plain.map(create), "MAP_NO_KEY", /^public\.shadow_t: .*tables\[0\]\.key/);
  throwsCode(() => plain.map(remove), "MAP_NO_KEY", /tables\[0\]\.key/);
  throwsCode(() => plain.keyColumns(create), "MAP_NO_KEY", /no key/);

  const keyed = mapperFor(file, { key: ["id"] });
  assert.deepEqual(keyed.map(create), {
    kind: "upsert",
    keyId: keyIdentity([1]),
    row: { id: 1, name: "one", qty: 1, note: "first" },
  });
  // The delete's key comes from `before`.
  assert.deepEqual(keyed.map(remove), { kind: "delete", keyId: keyIdentity([2]), key: { id: 2 } });
});

test("a key column absent from the event is MAP_KEY_COLUMN_MISSING", () => {
  const file = "postgres/default/update.json";
  const mapper = mapperFor(file, { key: ["id", "sku"] });
  for (const event of rowChanges(file)) throwsCode(() => mapper.map(event), "MAP_KEY_COLUMN_MISSING", /sku/);
  const remove = rowChanges("mariadb/default/delete.json", "d")[0]!;
  throwsCode(
    () => mapperFor("mariadb/default/delete.json", { key: ["sku"] }).map(remove),
    "MAP_KEY_COLUMN_MISSING",
    /sku/,
  );
});

test("a key column that TOAST left out is MAP_KEY_COLUMN_MISSING, never keyed by the marker", () => {
  const file = "postgres/default/toast.json";
  const mapper = mapperFor(file, { key: ["id", "big_text"] });
  const [create, update] = rowChanges(file);
  const upsert = upsertOf(mapper.map(create!));
  assert.equal(upsert.keyId, keyIdentity([1, create!.after!.big_text!]));
  throwsCode(() => mapper.map(update!), "MAP_KEY_COLUMN_MISSING", /big_text/);
});

test("a truncate maps to a truncate", () => {
  for (const engine of ["postgres", "mariadb"]) {
    const file = `${engine}/default/truncate.json`;
    const truncate = decode(file).find((e) => e.op === "t");
    assert.ok(truncate && truncate.op === "t", engine);
    assert.deepEqual(mapperFor(file).map(truncate), { kind: "truncate" });
    // Also for a keyless table with no configured key: a truncate needs no key.
    assert.deepEqual(mapperFor(file, { key: ["sku"] }).map(truncate), { kind: "truncate" });
  }
});

test("a primary-key change maps to a delete of the old key and an upsert of the new one", () => {
  for (const engine of ["postgres", "mariadb"]) {
    const file = `${engine}/default/pk-change.json`;
    const mapper = mapperFor(file);
    const changes = rowChanges(file).map((e) => mapper.map(e));
    assert.deepEqual(
      changes.map((c) => [c.kind, c.kind === "truncate" ? null : c.keyId]),
      [
        ["upsert", keyIdentity([1])],
        ["upsert", keyIdentity([2])],
        ["delete", keyIdentity([1])],
        ["upsert", keyIdentity([10])],
      ],
      engine,
    );
  }
});

test('keyIdentity tells 1, "1" and 1n apart (and other values from their text)', () => {
  const ids = [
    keyIdentity([1]),
    keyIdentity(["1"]),
    keyIdentity([1n]),
    keyIdentity([true]),
    keyIdentity(["true"]),
    keyIdentity([null]),
    keyIdentity(["null"]),
    keyIdentity([1.5]),
    keyIdentity(["1.5"]),
  ];
  assert.equal(new Set(ids).size, ids.length, ids.join("  "));
});

test('keyIdentity: a bigint never collides with a string (1n vs "1n")', () => {
  assert.notEqual(keyIdentity([1n]), keyIdentity(["1n"]));
  assert.notEqual(keyIdentity([9007199254740993n]), keyIdentity(["9007199254740993n"]));
});

test("keyIdentity: bigints beyond 2^53 stay exact; composite keys keep their positions", () => {
  assert.notEqual(keyIdentity([9007199254740993n]), keyIdentity([9007199254740992n]));
  assert.equal(keyIdentity([9007199254740993n]), keyIdentity([BigInt("9007199254740993")]));
  assert.notEqual(keyIdentity([1, 2]), keyIdentity([2, 1]));
  assert.notEqual(keyIdentity([1, 2]), keyIdentity([12]));
  assert.notEqual(keyIdentity(["a,b"]), keyIdentity(["a", "b"]));
  assert.notEqual(keyIdentity(["a", "b"]), keyIdentity(["a\u0000b"]));
  assert.equal(keyIdentity([1, "x"]), keyIdentity([1, "x"]));
});

test("keyIdentity compares Buffers by content", () => {
  assert.equal(keyIdentity([Buffer.from([0xde, 0xad])]), keyIdentity([Buffer.from("dead", "hex")]));
  assert.notEqual(keyIdentity([Buffer.from([0xde, 0xad])]), keyIdentity([Buffer.from([0xde, 0xae])]));
  assert.notEqual(keyIdentity([Buffer.from([1])]), keyIdentity([Buffer.from([1, 0])]));
  assert.notEqual(keyIdentity([Buffer.from("ab")]), keyIdentity(["ab"]));
  // bytea keys from the recording: each row's bytes give its own identity.
  const events = rowChanges("postgres/default/alltypes-snapshot.json", "r");
  const bytes = events.map((e) => e.after!.c_bytea).filter((b): b is Buffer => Buffer.isBuffer(b));
  assert.ok(bytes.length >= 3);
  const distinct = new Set(bytes.map((b) => b.toString("hex")));
  assert.equal(new Set(bytes.map((b) => keyIdentity([b]))).size, distinct.size);
  for (const b of bytes) assert.equal(keyIdentity([b]), keyIdentity([Buffer.from(b)]));
});
