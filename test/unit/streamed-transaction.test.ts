/**
 * StreamedTransaction over the recording fake of our Target interface, with the real TargetTables,
 * Mapper and RecordDecoder on a recorded update batch: chunks go into ONE transaction that only
 * the commit ends, a refused record becomes a dead letter inside it, and a shape never resolved
 * stops the stream instead of running DDL in the open transaction.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { NeedsShapes, resolveShapes, StreamedTransaction } from "../../src/apply/streamed-transaction.ts";
import { isShadowdbError, ShadowdbError } from "../../src/errors.ts";
import { dbError, type Operation } from "../support/fake-target.ts";
import { groupId, streamSetup } from "../support/stream-setup.ts";

const setup = streamSetup;

const ops = (operations: Operation[]) => operations.map((o) => o.op);

test("chunks go into one transaction that saves the positions and commits only at the end", async () => {
  const { records, table, target, ctx, items, known, fx } = setup();
  await resolveShapes(ctx, known, items);
  const looked = target.schemaCalls.length;
  const stream = new StreamedTransaction(ctx, known, 2);
  const first = await stream.write(items.slice(0, 4));
  assert.equal(first.applied, items.slice(0, 4).filter((i) => i.change).length);
  await stream.write(items.slice(4));
  assert.deepEqual(target.committed(), [], "nothing is visible before the commit");
  assert.deepEqual(target.rows(table), []);
  const positions = await stream.commit();
  const last = records.at(-1)!;
  assert.deepEqual(positions, [
    { topic: last.topic, partition: last.partition, offset: (BigInt(last.offset) + 1n).toString() },
  ]);
  assert.equal(target.transactions.length, 1);
  const [tx] = target.committed();
  assert.equal(ops(tx!.operations).at(-1), "savePositions");
  assert.ok(ops(tx!.operations).filter((o) => o === "write").length >= 2, "written chunk by chunk");
  assert.equal(target.rows(table).length, fx.sourceRows!.length);
  assert.equal(target.schemaCalls.length, looked, "no table lookup inside the open transaction");
  await assert.rejects(stream.write(items), /committing|aborted/);
});

test("a record the target refuses becomes a dead letter inside the same transaction", async () => {
  const { records, target, ctx, items, known } = setup();
  await resolveShapes(ctx, known, items);
  target.failOn = (operation) =>
    operation.op === "write" && operation.write.upserts.some((r) => r.qty === 4)
      ? dbError("duplicate key value violates unique constraint", "23505")
      : undefined;
  const stream = new StreamedTransaction(ctx, known, 1000);
  const result = await stream.write(items);
  assert.equal(result.deadLetters.length, 1);
  assert.equal(result.deadLetters[0]!.code, "TARGET_CONSTRAINT");
  assert.equal(result.applied, items.filter((i) => i.change).length - 1);
  await stream.commit();
  assert.equal(target.transactions.length, 1, "one transaction, savepoints inside it");
  assert.equal(target.committed().length, 1);
  assert.deepEqual(target.committed()[0]!.operations.at(-1), {
    op: "savePositions",
    groupId,
    positions: [
      {
        topic: records[0]!.topic,
        partition: records[0]!.partition,
        offset: (BigInt(records.at(-1)!.offset) + 1n).toString(),
      },
    ],
  });
  assert.equal(target.deadLetters().length, 1);
});

test("the stream's letters are reported once it commits, and a refused letter is stored reduced", async () => {
  const { target, ctx, items, known, reported } = setup();
  await resolveShapes(ctx, known, items);
  target.failOn = (operation) => {
    if (operation.op === "write" && operation.write.upserts.some((r) => r.qty === 4))
      return dbError("duplicate key value violates unique constraint", "23505");
    // A store that refuses any letter but a reduced one: the stream must not be sunk by it.
    if (operation.op === "saveDeadLetters" && !operation.letters[0]!.message.startsWith("the store refused"))
      return dbError('new row violates check constraint "letters_check"', "23514");
    return undefined;
  };
  const stream = new StreamedTransaction(ctx, known, 1000);
  await stream.write(items);
  assert.equal(reported.length, 0, "nothing reported before the commit");
  await stream.commit();
  assert.deepEqual(
    reported.map((r) => [r.letter.code, r.stored]),
    [["TARGET_CONSTRAINT", "reduced"]],
  );
  assert.equal(target.committed().length, 1, "the stream committed despite the refused letter");
  assert.match(target.deadLetters()[0]!.message, /^the store refused this letter's message/);
});

test("a letter too large for the store is stored reduced, without its bytes, before it is sent", async () => {
  const { records, target, ctx, items, known, reported } = setup();
  await resolveShapes(ctx, known, items);
  // As MariaDB past max_allowed_packet: sent, the letter would cost the connection (retriable).
  target.letterLimit = 100;
  const last = records.at(-1)!;
  const record = { ...last, offset: (BigInt(last.offset) + 1n).toString(), value: Buffer.alloc(1000, 0x78) };
  const oversized = { record, error: new ShadowdbError("DECODE_OVERSIZED", "record has 1000 bytes") };
  const stream = new StreamedTransaction(ctx, known, 1000);
  await stream.write([...items, oversized]);
  await stream.commit();
  assert.equal(target.committed().length, 1);
  assert.deepEqual(
    reported.map((r) => [r.letter.code, r.stored, r.refused?.code]),
    [["DECODE_OVERSIZED", "reduced", "DEAD_LETTER_TOO_LARGE"]],
  );
  const [stored] = target.deadLetters();
  assert.equal(stored!.value, null);
  assert.equal(stored!.key, null);
  assert.match(stored!.message, /too large for the dead-letter store \(key \d+ bytes, value 1000 bytes/);
});

test("a shape never resolved stops the stream before any DDL could run in the open transaction", async () => {
  const { target, ctx, items, known } = setup();
  const stream = new StreamedTransaction(ctx, known, 1000);
  const failed = await stream.write(items).then(
    () => undefined,
    (error: unknown) => error,
  );
  assert.ok(failed instanceof NeedsShapes);
  assert.equal(failed.items.length, items.filter((i) => i.change).length);
  await stream.ended;
  assert.deepEqual(target.committed(), []);
  await assert.rejects(stream.commit());
  // Resolved outside, the next stream writes them.
  await resolveShapes(ctx, known, failed.items);
  const again = new StreamedTransaction(ctx, known, 1000);
  await again.write(items);
  await again.commit();
  assert.equal(target.committed().length, 1);
});

test("a partition another instance moved on is fenced: the stream is rolled back", async () => {
  const { target, ctx, items, known } = setup("7");
  await resolveShapes(ctx, known, items);
  const stream = new StreamedTransaction(ctx, known, 1000);
  await assert.rejects(stream.write(items), (error) => isShadowdbError(error, "APPLY_FENCED"));
  await stream.ended;
  assert.deepEqual(target.committed(), []);
  assert.equal(target.transactions[0]!.outcome, "rolled back");
});

test("abort rolls back what was written", async () => {
  const { table, target, ctx, items, known } = setup();
  await resolveShapes(ctx, known, items);
  const stream = new StreamedTransaction(ctx, known, 1000);
  await stream.write(items);
  await stream.abort();
  assert.deepEqual(target.committed(), []);
  assert.deepEqual(target.rows(table), []);
});
