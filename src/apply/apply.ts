/**
 * Applies prepared items to the target: the whole batch, of one partition or of several (a source
 * transaction spans tables), in one transaction with its positions; if the database refuses it for
 * a reason that will not pass, record by record, so that only the bad records are set aside.
 * Retriable failures wait and try again without advancing.
 */
import type { Item } from "../batch/items.ts";
import { ShadowdbError } from "../errors.ts";
import { partitionId } from "../source/partition.ts";
import type { DeadLetter, TargetTransaction, WriteOutcome } from "../target/dialect.ts";
import { type ApplyContext, classified } from "./context.ts";
import { deadLetter, firstTry, type SetAside, toStore, tries } from "./letters.ts";
import { add, slices, tableWrites } from "./writes.ts";

/**
 * Locks a partition's position row for the transaction and checks it is where this instance left
 * it: after a rebalance a slow former owner must not commit over the new owner's work. Returns it.
 */
export async function fence(
  ctx: ApplyContext,
  tx: TargetTransaction,
  topic: string,
  partition: number,
): Promise<string | undefined> {
  const current = await tx.lockPosition(ctx.groupId, topic, partition);
  const expected = ctx.positions.expected(topic, partition);
  if (current !== expected) {
    throw new ShadowdbError(
      "APPLY_FENCED",
      `${partitionId(topic, partition)} is at ${current ?? "no position"} in the target, not ${expected ?? "no position"}`,
    );
  }
  return expected;
}

async function commit(ctx: ApplyContext, items: Item[], setAside: SetAside[]): Promise<WriteOutcome> {
  const letters = toStore(setAside);
  const parts = slices(items);
  const writes = await tableWrites(ctx, parts);
  const positions = parts.map(({ topic, partition, items: sliceItems }) => ({
    topic,
    partition,
    offset: (BigInt(sliceItems.at(-1)!.record.offset) + 1n).toString(),
  }));
  const outcome: WriteOutcome = { toCopy: 0, lostInserts: 0, hidden: 0 };
  await ctx.target.transaction(async (tx) => {
    for (const { topic, partition } of parts) await fence(ctx, tx, topic, partition);
    for (const write of writes) {
      add(outcome, await tx.write(write));
    }
    // Letters are stored with the positions they move past, whatever the store: a topic store is
    // fed from this table afterwards, so a retry can never send a letter twice.
    if (letters.length > 0) await tx.saveDeadLetters(ctx.groupId, letters);
    await tx.savePositions(ctx.groupId, positions);
  });
  for (const p of positions) ctx.positions.committed(p.topic, p.partition, p.offset);
  if (setAside.length > 0) ctx.onDeadLetters(setAside);
  return outcome;
}

/**
 * Commits one record's letter with the position past it. A store that refuses the letter for good
 * (a legacy character set, a constraint added to the table) is sent it reduced to coordinates, code
 * and raw bytes; refused again, the record is skipped with only its position stored. A letter
 * that can never be stored must not stop shadowdb at every start on the same record.
 */
async function setAsideOne(ctx: ApplyContext, item: Item, letter: DeadLetter): Promise<void> {
  const first = firstTry(ctx, letter);
  let refused = first.refused;
  for (const stored of tries(first)) {
    try {
      await commit(ctx, [{ record: item.record }], [{ letter, stored, refused }]);
      return;
    } catch (error) {
      const reason = classified(ctx, error);
      if (reason.retriable || stored === "nothing") throw reason;
      refused = reason;
    }
  }
}

export interface ApplyResult extends WriteOutcome {
  applied: number;
  /** The letters of the records this call set aside; onDeadLetters has reported them already. */
  deadLetters: DeadLetter[];
}

/**
 * Applies `items` (in offset order). Throws a retriable ShadowdbError for the caller to retry the
 * same items later, or any error when onError is "stop".
 */
export async function applyItems(ctx: ApplyContext, items: Item[]): Promise<ApplyResult> {
  const failed = items.filter((i) => i.error);
  if (failed.length > 0 && ctx.onError === "stop") throw failed[0]!.error;
  const letters = failed.map((i) => deadLetter(i, i.error!));
  const good = items.filter((i) => !i.error);
  try {
    // Failed items still move the position: they are recorded as dead letters in the same commit.
    const outcome = await commit(
      ctx,
      items.map((i) => (i.error ? { record: i.record } : i)),
      letters.map((letter) => firstTry(ctx, letter)),
    );
    return { applied: good.filter((i) => i.change).length, deadLetters: letters, ...outcome };
  } catch (error) {
    const reason = classified(ctx, error);
    // The table changed under us (a migration, an overlay uninstalled): look it up and install again.
    if (reason.code === "TARGET_SCHEMA" || reason.code === "OVERLAY_NOT_INSTALLED") ctx.tables.forget();
    if (reason.retriable || ctx.onError === "stop") throw reason;
    try {
      return await applyOneByOne(ctx, items);
    } catch (error) {
      // A lost connection while setting a record aside is as retriable as anywhere else.
      throw classified(ctx, error);
    }
  }
}

async function applyOneByOne(ctx: ApplyContext, items: Item[]): Promise<ApplyResult> {
  let applied = 0;
  const all: DeadLetter[] = [];
  const outcome: WriteOutcome = { toCopy: 0, lostInserts: 0, hidden: 0 };
  for (const item of items) {
    if (item.error) {
      const letter = deadLetter(item, item.error);
      await setAsideOne(ctx, item, letter);
      all.push(letter);
      continue;
    }
    try {
      add(outcome, await commit(ctx, [item], []));
      if (item.change) applied++;
    } catch (error) {
      const reason = classified(ctx, error);
      if (reason.retriable) throw reason;
      const letter = deadLetter(item, reason);
      await setAsideOne(ctx, item, letter);
      all.push(letter);
    }
  }
  return { applied, deadLetters: all, ...outcome };
}
