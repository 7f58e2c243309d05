/**
 * applyItems over a recording fake of our own Target interface (test/support/fake-target.ts), with
 * the real TargetTables, Mapper and RecordDecoder, on batches of messages recorded from the real stack.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { stringify } from "yaml";
import { applyItems } from "../../src/apply/apply.ts";
import { type ApplyContext, ApplyError } from "../../src/apply/context.ts";
import type { SetAside } from "../../src/apply/letters.ts";
import { Positions } from "../../src/apply/positions.ts";
import { type Item, prepareItems } from "../../src/batch/items.ts";
import { parseConfig, resolveTable } from "../../src/config/index.ts";
import { type KafkaRecord, RecordDecoder, type Row } from "../../src/decode/index.ts";
import { isShadowdbError, ShadowdbError } from "../../src/errors.ts";
import { createLogger } from "../../src/log.ts";
import { Mapper } from "../../src/map/mapper.ts";
import type { DeadLetter, QualifiedName } from "../../src/target/dialect.ts";
import { TargetTables } from "../../src/target/tables.ts";
import { dbError, FakeTarget, fakeClassify, type Operation } from "../support/fake-target.ts";
import { readFixture, tableRecords } from "../support/fixtures.ts";

const groupId = "shadowdb-test";

interface TableFixture {
  table: string;
  columns: Record<string, string>;
  key: string[];
  sourceRows: Record<string, string | null>[];
  records: KafkaRecord[];
}

function fixture(file: string): TableFixture {
  const raw = readFixture(file);
  return {
    table: raw.table,
    columns: raw.columns ?? {},
    key: raw.key ?? [],
    sourceRows: raw.sourceRows ?? [],
    records: tableRecords(raw),
  };
}

/** Offset `k` records after the first of the recorded update batch: each recording has its own offsets. */
const updateStart = BigInt(fixture("postgres/default/update.json").records[0]!.offset);
const at = (k: number) => (updateStart + BigInt(k)).toString();

/** The record with its value cut short, as a broken producer or a bad copy would leave it. */
function cutShort(record: KafkaRecord): KafkaRecord {
  return { ...record, value: record.value!.subarray(0, 40) };
}

interface Setup {
  fx: TableFixture;
  target: FakeTarget;
  table: QualifiedName;
  ctx: ApplyContext;
  committed: string[];
  /** What onDeadLetters reported, in order. */
  reported: SetAside[];
  items: (records?: KafkaRecord[]) => Item[];
}

function setup(
  file: string,
  options: { entry?: Record<string, unknown>; exists?: boolean; ctx?: Partial<ApplyContext> } = {},
): Setup {
  const fx = fixture(file);
  const topic = fx.records[0]!.topic;
  const [schema, name] = fx.table.split(".") as [string, string];
  const table = { schema: schema === "prod" ? "shadow" : "public", name };
  const config = parseConfig(
    stringify({
      kafka: { brokers: "a:1", groupId },
      target: { dialect: "postgres", url: "postgres://h/shadow" },
      tables: [{ topic, table: `${table.schema}.${table.name}`, ...options.entry }],
      http: { port: 0 },
    }),
    "t.yaml",
    {},
  );
  const mapping = resolveTable(config, topic)!;
  const target = new FakeTarget();
  if (options.exists !== false) target.defineTable(table, fx.columns, fx.key);
  const committed: string[] = [];
  const reported: SetAside[] = [];
  const ctx: ApplyContext = {
    target,
    classify: fakeClassify,
    tables: new TargetTables(
      target,
      createLogger("silent"),
      options.ctx?.overlay ? { idHeadroom: 1_000_000_000n } : undefined,
    ),
    groupId,
    mappingFor: (t) => (t === topic ? mapping : undefined),
    onError: "dlq",
    overlay: false,
    // Positions believe what each commit stored: what the fake target holds.
    positions: new Positions({ onStored: (_topic, _partition, next) => committed.push(next.toString()) }),
    onDeadLetters: (setAside) => {
      for (const s of setAside) reported.push(s);
    },
    ...options.ctx,
  };
  const decoder = new RecordDecoder();
  const mapper = new Mapper(mapping);
  return {
    fx,
    target,
    table,
    ctx,
    committed,
    reported,
    items: (records = fx.records) => prepareItems(records, decoder, mapper),
  };
}

/** Rows as text, the form of the fixtures' sourceRows. */
function asText(rows: Row[]): Record<string, string | null>[] {
  return rows.map((row) =>
    Object.fromEntries(Object.entries(row).map(([k, v]) => [k, v === null ? null : String(v)])),
  );
}

const byId = (rows: Record<string, string | null>[]) => [...rows].sort((a, b) => Number(a.id) - Number(b.id));

const next = (record: KafkaRecord) => (BigInt(record.offset) + 1n).toString();

const ops = (operations: Operation[]) => operations.map((o) => o.op);

function letterOf(record: KafkaRecord, code: DeadLetter["code"]): Omit<DeadLetter, "message"> {
  return {
    topic: record.topic,
    partition: record.partition,
    offset: record.offset,
    key: record.key,
    value: record.value,
    code,
  };
}

function withoutMessage(letters: DeadLetter[]) {
  return letters.map(({ message: _, ...rest }) => rest);
}

test("a batch is one transaction: the coalesced write, then the position after its last record", async () => {
  const { fx, target, table, ctx, committed, items } = setup("postgres/default/update.json");
  const result = await applyItems(ctx, items());
  assert.deepEqual(result, { applied: 8, deadLetters: [], toCopy: 0, lostInserts: 0, hidden: 0 });

  assert.equal(target.transactions.length, 1);
  const [tx] = target.committed();
  assert.deepEqual(ops(tx!.operations), ["write", "savePositions"]);
  const write = (tx!.operations[0] as Extract<Operation, { op: "write" }>).write;
  assert.deepEqual(write.table.name, table);
  assert.equal(write.truncate, false);
  assert.deepEqual(write.deletes, []);
  assert.deepEqual(write.upserts.map((r) => [r.id, r.qty]).sort(), [
    [1, 11],
    [2, 3],
    [3, 4],
  ]);
  assert.deepEqual(
    Object.entries(write.types).map(([n, t]) => [n, t.kind]),
    [
      ["id", "int32"],
      ["name", "string"],
      ["qty", "int32"],
      ["note", "string"],
    ],
  );
  const last = fx.records.at(-1)!;
  assert.deepEqual(tx!.operations[1], {
    op: "savePositions",
    groupId,
    positions: [{ topic: last.topic, partition: last.partition, offset: next(last) }],
  });
  assert.equal(next(last), at(8));
  assert.deepEqual(committed, [at(8)]);
  assert.deepEqual(target.positionsOf(groupId), [{ topic: last.topic, partition: 0, offset: at(8) }]);
  assert.deepEqual(byId(asText(target.rows(table))), byId(fx.sourceRows));
});

test("deletes, tombstones and truncates of recorded batches end in the source's rows", async () => {
  for (const file of [
    "postgres/default/delete.json",
    "mariadb/default/delete.json",
    "postgres/default/pk-change.json",
    "mariadb/default/pk-change.json",
    "postgres/default/truncate.json",
    "mariadb/default/truncate.json",
    "postgres/default/toast.json",
  ]) {
    const { fx, target, table, ctx, committed, items } = setup(file);
    const result = await applyItems(ctx, items());
    assert.deepEqual(result.deadLetters, [], file);
    assert.equal(target.committed().length, 1, file);
    assert.deepEqual(committed, [next(fx.records.at(-1)!)], file);
    const rows = asText(target.rows(table));
    if (file.includes("toast")) {
      // Text forms of bytea/arrays/json differ from psql's; the row and its new value are what counts.
      assert.equal(rows.length, 1);
      assert.equal(rows[0]!.small, "2");
      assert.equal(Object.keys(rows[0]!).length, 6, "the unchanged large columns are kept");
      continue;
    }
    assert.deepEqual(byId(rows), byId(fx.sourceRows), file);
  }
});

test("a table the target lacks is created from the event's columns, keyed by the key columns", async () => {
  const { fx, target, table, ctx, items } = setup("postgres/default/update.json", {
    exists: false,
    entry: { columns: { rename: { name: "full_name" }, exclude: ["note"] } },
  });
  await applyItems(ctx, items());
  assert.deepEqual(target.schemaCalls, [
    "describe public.fx_update",
    "createTable public.fx_update (id, full_name, qty) key (id)",
    "describe public.fx_update",
  ]);
  assert.deepEqual(
    byId(asText(target.rows(table))),
    byId(fx.sourceRows.map(({ id, name, qty }) => ({ id: id!, full_name: name!, qty: qty! }))),
  );
});

test("a record that cannot be decoded becomes a dead letter in the same commit, and the position moves past it", async () => {
  const { fx, target, table, ctx, committed, items } = setup("postgres/default/delete.json");
  const records = [...fx.records];
  records[1] = cutShort(records[1]!); // the create of id 2
  const result = await applyItems(ctx, items(records));

  assert.equal(target.transactions.length, 1);
  const [tx] = target.committed();
  assert.deepEqual(ops(tx!.operations), ["write", "saveDeadLetters", "savePositions"]);
  const saved = tx!.operations[1] as Extract<Operation, { op: "saveDeadLetters" }>;
  assert.equal(saved.groupId, groupId);
  assert.deepEqual(withoutMessage(saved.letters), [letterOf(records[1]!, "DECODE_MALFORMED_JSON")]);
  assert.ok(saved.letters[0]!.message.length > 0);
  assert.deepEqual(result.deadLetters, saved.letters);
  assert.equal(result.applied, 3, "creates of 1 and 3, delete of 2");
  assert.deepEqual(committed, [next(records.at(-1)!)]);
  // id 2 was never created here and its delete is applied: 1 and 3 remain.
  assert.deepEqual(
    asText(target.rows(table)).map((r) => r.id),
    ["1", "3"],
  );
});

test("a record that cannot be mapped becomes a dead letter too, even as the last of the batch", async () => {
  // A configured key column that TOAST leaves out of the update: MAP_KEY_COLUMN_MISSING.
  const { fx, target, ctx, committed, items } = setup("postgres/default/toast.json", {
    entry: { key: ["id", "big_text"] },
  });
  const prepared = items();
  assert.equal(prepared.at(-1)!.error?.code, "MAP_KEY_COLUMN_MISSING");
  const result = await applyItems(ctx, prepared);
  assert.equal(result.applied, 1);
  assert.deepEqual(withoutMessage(result.deadLetters), [letterOf(fx.records[1]!, "MAP_KEY_COLUMN_MISSING")]);
  assert.deepEqual(ops(target.committed()[0]!.operations), ["write", "saveDeadLetters", "savePositions"]);
  assert.deepEqual(committed, [next(fx.records[1]!)]);
  assert.deepEqual(withoutMessage(target.deadLetters()), withoutMessage(result.deadLetters));
});

test("a batch of nothing but failures commits its dead letters and position, with no write", async () => {
  const { fx, target, ctx, committed, items } = setup("postgres/default/update.json");
  const records = fx.records.slice(0, 2).map(cutShort);
  const result = await applyItems(ctx, items(records));
  assert.equal(result.applied, 0);
  assert.equal(result.deadLetters.length, 2);
  assert.deepEqual(ops(target.committed()[0]!.operations), ["saveDeadLetters", "savePositions"]);
  assert.deepEqual(target.schemaCalls, [], "no table is looked up for a batch without changes");
  assert.deepEqual(committed, [next(records[1]!)]);
});

/** Refuses (as a unique violation) any write that sets qty to 4: only the update at offset 29 does. */
const rejectQty4 = (operation: Operation) =>
  operation.op === "write" && operation.write.upserts.some((r) => r.qty === 4)
    ? dbError('duplicate key value violates unique constraint "fx_update_qty_key"', "23505")
    : undefined;

test("a write the database refuses for good falls back to record by record: only that record is set aside", async () => {
  const { fx, target, table, ctx, committed, items } = setup("postgres/default/update.json");
  target.failOn = rejectQty4;
  const result = await applyItems(ctx, items());

  const bad = fx.records.find((r) => r.offset === at(5))!;
  assert.equal(result.applied, 7);
  assert.equal(result.deadLetters.length, 1);
  assert.deepEqual(withoutMessage(result.deadLetters), [letterOf(bad, "TARGET_CONSTRAINT")]);
  // The database's own code is in the message.
  assert.match(result.deadLetters[0]!.message, /duplicate key value.*\(23505\)/);

  // The batch transaction was rolled back; then one commit per record, each with its own position.
  assert.equal(target.transactions[0]!.outcome, "rolled back");
  assert.deepEqual(
    target.committed().map((t) => ops(t.operations)),
    fx.records.map((r) => (r === bad ? ["saveDeadLetters", "savePositions"] : ["write", "savePositions"])),
  );
  assert.deepEqual(
    target
      .committed()
      .map((t) => (t.operations.at(-1) as Extract<Operation, { op: "savePositions" }>).positions),
    fx.records.map((r) => [{ topic: r.topic, partition: r.partition, offset: next(r) }]),
  );
  // The positions are told every new next offset, in order.
  assert.deepEqual(committed, [at(1), at(2), at(3), at(4), at(5), at(6), at(7), at(8)]);
  assert.deepEqual(withoutMessage(target.deadLetters()), withoutMessage(result.deadLetters));
  // Everything but the refused update is applied: id 3 keeps qty 3.
  assert.deepEqual(
    byId(asText(target.rows(table))),
    byId(fx.sourceRows.map((r) => (r.id === "3" ? { ...r, qty: "3" } : r))),
  );
});

test("record by record, decode failures and refused writes are each set aside in their own commit", async () => {
  const { fx, target, ctx, committed, items } = setup("postgres/default/update.json");
  target.failOn = rejectQty4;
  const records = [...fx.records];
  records[1] = cutShort(records[1]!); // offset 25
  const result = await applyItems(ctx, items(records));
  assert.deepEqual(
    result.deadLetters.map((l) => [l.offset, l.code]),
    [
      [at(1), "DECODE_MALFORMED_JSON"],
      [at(5), "TARGET_CONSTRAINT"],
    ],
  );
  assert.equal(result.applied, 6);
  assert.deepEqual(committed, [at(1), at(2), at(3), at(4), at(5), at(6), at(7), at(8)]);
  assert.equal(target.deadLetters().length, 2, "each letter stored once");
});

test("a retriable failure is rethrown as a retriable ShadowdbError; nothing is committed", async () => {
  for (const failing of ["write", "savePositions"] as const) {
    const { target, ctx, committed, items } = setup("postgres/default/update.json");
    target.failOn = (operation) =>
      operation.op === failing ? dbError("Connection terminated unexpectedly") : undefined;
    await assert.rejects(applyItems(ctx, items()), (error: unknown) => {
      assert.ok(isShadowdbError(error, "TARGET_CONNECTION"), String(error));
      assert.equal(error.retriable, true);
      assert.ok(error instanceof ApplyError);
      assert.match(error.message, /Connection terminated unexpectedly/);
      return true;
    });
    assert.deepEqual(target.committed(), [], failing);
    assert.equal(target.transactions.length, 1, `${failing}: no fallback for a retriable failure`);
    assert.deepEqual(committed, []);
    assert.deepEqual(target.positionsOf(groupId), []);
  }
});

test("a deadlock (retriable) is not set aside either", async () => {
  const { target, ctx, items } = setup("postgres/default/update.json");
  target.failOn = (operation) =>
    operation.op === "write" ? dbError("deadlock detected", "40P01") : undefined;
  await assert.rejects(applyItems(ctx, items()), (error: unknown) => {
    assert.ok(isShadowdbError(error, "TARGET_DEADLOCK"), String(error));
    assert.equal(error.retriable, true);
    return true;
  });
  assert.deepEqual(target.deadLetters(), []);
});

test("a retriable failure during the record-by-record fallback stops there; earlier records stay committed", async () => {
  const { target, ctx, committed, items } = setup("postgres/default/update.json");
  target.failOn = (operation) =>
    rejectQty4(operation) ??
    (operation.op === "write" && operation.write.upserts.some((r) => r.qty === 11)
      ? dbError("Connection terminated unexpectedly")
      : undefined);
  await assert.rejects(applyItems(ctx, items()), (error: unknown) => {
    assert.ok(isShadowdbError(error, "TARGET_CONNECTION"), String(error));
    assert.equal(error.retriable, true);
    return true;
  });
  // 24…29 committed (29 as a dead letter); the update at 30 failed: the caller retries from 30.
  assert.deepEqual(committed, [at(1), at(2), at(3), at(4), at(5), at(6)]);
  assert.deepEqual(
    target.positionsOf(groupId).map((p) => p.offset),
    [at(6)],
  );
});

for (const [kind, cut, committedBefore] of [
  ["a refused write", undefined, [at(1), at(2), at(3), at(4), at(5)]],
  ["a decode failure", 1, [at(1)]],
] as const) {
  test(`the fallback storing ${kind}'s dead letter loses the connection: a retriable ShadowdbError`, async () => {
    const { fx, target, ctx, committed, items } = setup("postgres/default/update.json");
    let dropped = false;
    target.failOn = (operation) => {
      // The connection drops as the first dead letter of the fallback is stored.
      if (operation.op === "saveDeadLetters" && target.transactions.length > 1 && !dropped) {
        dropped = true;
        return dbError("Connection terminated unexpectedly");
      }
      return rejectQty4(operation);
    };
    const batch = [...fx.records];
    if (cut !== undefined) batch[cut] = cutShort(batch[cut]!); // offset 25
    await assert.rejects(applyItems(ctx, items(batch)), (error: unknown) => {
      assert.ok(error instanceof ShadowdbError, `${String(error)} is not a ShadowdbError`);
      assert.equal(error.code, "TARGET_CONNECTION");
      assert.equal(error.retriable, true);
      return true;
    });
    assert.ok(dropped);
    assert.deepEqual(committed, committedBefore);
  });
}

test('onError "stop": a decode failure is rethrown and nothing is committed', async () => {
  const { fx, target, ctx, committed, items } = setup("postgres/default/update.json", {
    ctx: { onError: "stop" },
  });
  const records = [...fx.records];
  records[2] = cutShort(records[2]!);
  await assert.rejects(applyItems(ctx, items(records)), (error: unknown) => {
    assert.ok(isShadowdbError(error, "DECODE_MALFORMED_JSON"), String(error));
    return true;
  });
  assert.deepEqual(target.transactions, []);
  assert.deepEqual(committed, []);
});

test('onError "stop": a write the database refuses is rethrown, with no fallback and no dead letter', async () => {
  const { target, ctx, committed, items } = setup("postgres/default/update.json", {
    ctx: { onError: "stop" },
  });
  target.failOn = rejectQty4;
  await assert.rejects(applyItems(ctx, items()), (error: unknown) => {
    assert.ok(isShadowdbError(error, "TARGET_CONSTRAINT"), String(error));
    assert.equal(error.retriable, false);
    assert.equal((error.cause as { code?: string }).code, "23505");
    return true;
  });
  assert.equal(target.transactions.length, 1);
  assert.deepEqual(target.committed(), []);
  assert.deepEqual(target.deadLetters(), []);
  assert.deepEqual(committed, []);
});

test("after a schema error the table is looked up again: a column the shadow dropped is skipped", async () => {
  const { fx, target, table, ctx, committed, items } = setup("postgres/default/update.json");
  await applyItems(ctx, items(fx.records.slice(0, 3)));
  assert.deepEqual(committed, [at(3)]);
  // The shadow's migration drops `note` while shadowdb holds the table's shape.
  target.dropColumn(table, "note");
  const result = await applyItems(ctx, items(fx.records.slice(3)));
  assert.deepEqual(result.deadLetters, []);
  assert.equal(result.applied, 5);
  assert.equal(target.schemaCalls.filter((c) => c.startsWith("describe")).length, 2);
  assert.deepEqual(committed.at(-1), at(8));
  assert.deepEqual(byId(asText(target.rows(table))), byId(fx.sourceRows.map(({ note: _, ...r }) => r)));
  assert.ok(ctx.tables.skipped.get("public.fx_update")?.has("note"));
});

test("with the overlay on, each table's overlay is installed before its first write, and writes name it", async () => {
  const { target, table, ctx, items } = setup("postgres/default/update.json", { ctx: { overlay: true } });
  const result = await applyItems(ctx, items());
  assert.deepEqual(result.deadLetters, []);
  assert.deepEqual(target.schemaCalls, [
    "describe public.fx_update",
    "installOverlay public.fx_update",
    "ensureIdHeadroom public.fx_update",
  ]);
  const write = (target.committed()[0]!.operations[0] as Extract<Operation, { op: "write" }>).write;
  assert.deepEqual(write.overlay?.table, table);
  assert.deepEqual(write.overlay?.owned, { schema: "public", name: "shadowdb_own_fx_update" });
  assert.deepEqual(write.overlay?.copy, { schema: "public", name: "shadowdb_prod_fx_update" });
  // Installed once per table, not per batch.
  await applyItems(ctx, items());
  assert.equal(target.schemaCalls.filter((c) => c.startsWith("installOverlay")).length, 1);
});

test("an overlay uninstalled under a running apply is installed again before the retry", async () => {
  const { target, ctx, items } = setup("postgres/default/update.json", { ctx: { overlay: true } });
  await applyItems(ctx, items());
  let missing = true;
  target.failOn = (operation) =>
    operation.op === "write" && missing
      ? new ShadowdbError("OVERLAY_NOT_INSTALLED", "public.fx_update has no overlay")
      : undefined;
  await assert.rejects(applyItems(ctx, items()), (error: unknown) => {
    assert.ok(isShadowdbError(error, "OVERLAY_NOT_INSTALLED"));
    assert.equal(error.retriable, true);
    return true;
  });
  assert.deepEqual(target.deadLetters(), [], "nothing is set aside");
  missing = false;
  await applyItems(ctx, items());
  assert.equal(target.schemaCalls.filter((c) => c.startsWith("installOverlay")).length, 2);
});

/** The record with its value behind the five-byte frame of a schema registry (magic byte 0x00). */
function registryFramed(record: KafkaRecord): KafkaRecord {
  return { ...record, value: Buffer.concat([Buffer.from([0, 0, 0, 0, 1]), record.value!]) };
}

const lostAtQty11 = () => {
  let lost = false;
  return (operation: Operation) => {
    if (lost || operation.op !== "write" || !operation.write.upserts.some((r) => r.qty === 11)) return;
    lost = true;
    return dbError("Connection terminated unexpectedly");
  };
};

test("letters the fallback commits are reported as each commit goes in, though the batch is then interrupted; the retry stores none twice", async () => {
  const { fx, target, ctx, committed, reported, items } = setup("postgres/default/update.json");
  const lose = lostAtQty11();
  target.failOn = (operation) => rejectQty4(operation) ?? lose(operation);
  const records = [...fx.records];
  records[1] = cutShort(records[1]!);
  const prepared = items(records);
  await assert.rejects(applyItems(ctx, prepared), (error: unknown) =>
    isShadowdbError(error, "TARGET_CONNECTION"),
  );

  // Two letters committed before the connection dropped at offset 30: both reported, once.
  const expected = [
    [at(1), "DECODE_MALFORMED_JSON", "letter"],
    [at(5), "TARGET_CONSTRAINT", "letter"],
  ];
  assert.deepEqual(
    reported.map((s) => [s.letter.offset, s.letter.code, s.stored]),
    expected,
  );
  assert.deepEqual(
    reported.map((s) => s.letter),
    target.deadLetters(),
    "what is reported is what is stored",
  );

  // The runner's retry: the items past the stored position (src/run/materializer.ts, apply).
  const pending = prepared.filter((i) => BigInt(i.record.offset) >= BigInt(committed.at(-1)!));
  assert.deepEqual(
    pending.map((i) => i.record.offset),
    [at(6), at(7)],
  );
  const result = await applyItems(ctx, pending);
  assert.deepEqual(result.deadLetters, []);
  assert.equal(result.applied, 2);
  assert.equal(reported.length, 2, "nothing reported twice");
  assert.equal(target.deadLetters().length, 2, "nothing stored twice");
  assert.deepEqual(committed.at(-1), at(8));
});

test("a batch that commits its letters reports them once, after the commit", async () => {
  const { fx, target, ctx, reported, items } = setup("postgres/default/update.json");
  const records = [...fx.records];
  records[2] = cutShort(records[2]!);
  let committedWhenReported: number | undefined;
  ctx.onDeadLetters = (setAside) => {
    committedWhenReported = target.committed().length;
    for (const s of setAside) reported.push(s);
  };
  const result = await applyItems(ctx, items(records));
  assert.equal(committedWhenReported, 1);
  assert.deepEqual(
    reported.map((s) => s.letter),
    result.deadLetters,
  );
  assert.deepEqual(target.deadLetters(), result.deadLetters);
});

test("a value starting with 0x00 (a registry frame) is set aside: its letter's text escapes the NUL, its bytes are kept", async () => {
  const { fx, target, ctx, committed, reported, items } = setup("postgres/default/update.json");
  const records = [...fx.records];
  records[3] = registryFramed(records[3]!);
  const result = await applyItems(ctx, items(records));
  assert.equal(result.applied, 7);
  const [letter] = target.deadLetters();
  assert.equal(target.deadLetters().length, 1);
  assert.equal(letter!.code, "DECODE_MALFORMED_JSON");
  assert.ok(!letter!.message.includes("\u0000"));
  assert.match(letter!.message, /\\u0000/);
  assert.deepEqual(letter!.value, records[3]!.value, "the raw bytes, unchanged");
  assert.deepEqual(
    reported.map((s) => s.stored),
    ["letter"],
  );
  assert.equal(committed.at(-1), at(8));
});

test("a letter the store refuses for good is stored reduced: coordinates, code, raw bytes and a fixed message", async () => {
  const { fx, target, table, ctx, committed, reported, items } = setup("postgres/default/update.json");
  // A store that refuses any letter but a reduced one (a constraint someone added, say).
  target.failOn = (operation) =>
    operation.op === "saveDeadLetters" && !operation.letters[0]!.message.startsWith("the store refused")
      ? dbError('new row violates check constraint "letters_check"', "23514")
      : undefined;
  const records = [...fx.records];
  records[1] = cutShort(records[1]!);
  const result = await applyItems(ctx, items(records));
  assert.equal(result.applied, 7);
  assert.deepEqual(withoutMessage(target.deadLetters()), [letterOf(records[1]!, "DECODE_MALFORMED_JSON")]);
  assert.equal(
    target.deadLetters()[0]!.message,
    "the store refused this letter's message (TARGET_OTHER); shadowdb's log has it",
  );
  assert.equal(reported.length, 1);
  assert.equal(reported[0]!.stored, "reduced");
  assert.equal(reported[0]!.refused?.code, "TARGET_OTHER");
  assert.match(reported[0]!.letter.message, /not valid JSON/, "the log gets the whole message");
  assert.equal(committed.at(-1), at(8));
  assert.equal(target.rows(table).length, fx.sourceRows.length);
});

test("a letter refused reduced too: the record is skipped with only its position, reported as stored nothing", async () => {
  const { fx, target, ctx, committed, reported, items } = setup("postgres/default/update.json");
  target.failOn = (operation) =>
    operation.op === "saveDeadLetters"
      ? dbError("permission denied for table shadowdb_dead_letters", "42501")
      : rejectQty4(operation);
  const records = [...fx.records];
  records[1] = cutShort(records[1]!);
  const result = await applyItems(ctx, items(records));
  assert.equal(result.applied, 6);
  assert.deepEqual(target.deadLetters(), []);
  assert.deepEqual(
    reported.map((s) => [s.letter.offset, s.letter.code, s.stored, s.refused?.code]),
    [
      [at(1), "DECODE_MALFORMED_JSON", "nothing", "TARGET_OTHER"],
      [at(5), "TARGET_CONSTRAINT", "nothing", "TARGET_OTHER"],
    ],
  );
  assert.deepEqual(committed, [at(1), at(2), at(3), at(4), at(5), at(6), at(7), at(8)]);
  // Each refused letter: the letter, the reduced letter (both rolled back), then the position alone.
  const skipped = target.committed()[1]!;
  assert.deepEqual(ops(skipped.operations), ["savePositions"]);
});

test("a lost connection while a refused letter is stored reduced is retriable, and nothing is reported", async () => {
  const { fx, target, ctx, reported, items } = setup("postgres/default/update.json");
  target.failOn = (operation) => {
    if (operation.op !== "saveDeadLetters") return;
    return operation.letters[0]!.message.startsWith("the store refused")
      ? dbError("Connection terminated unexpectedly")
      : dbError("value too long", "22001");
  };
  const records = [...fx.records];
  records[0] = cutShort(records[0]!);
  await assert.rejects(applyItems(ctx, items(records)), (error: unknown) =>
    isShadowdbError(error, "TARGET_CONNECTION"),
  );
  assert.deepEqual(reported, []);
  assert.deepEqual(target.deadLetters(), []);
});
