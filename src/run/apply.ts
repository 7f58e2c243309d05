/**
 * Applies prepared items to the target: the whole batch in one transaction with its position;
 * if the database refuses it for a reason that will not pass, record by record, so that only the
 * bad records are set aside. Retriable failures wait and try again without advancing.
 */

import { coalesce } from "../batch/coalesce.ts";
import type { TableMapping } from "../config/index.ts";
import type { ColumnType } from "../decode/index.ts";
import type { Row } from "../decode/values.ts";
import { type ErrorCode, ShadowdbError } from "../errors.ts";
import type { MappedChange } from "../map/mapper.ts";
import type { ClassifiedError, DeadLetter, TableShape, TableWrite, Target } from "../target/dialect.ts";
import type { Item } from "./batch.ts";
import type { TargetTables } from "./tables.ts";

export interface ApplyContext {
  target: Target;
  classify: (error: unknown) => ClassifiedError;
  tables: TargetTables;
  groupId: string;
  mapping: TableMapping;
  /** Dead letters for the Kafka topic store (the table store is written inside the transaction). */
  deadLetterSink: "table" | ((letters: DeadLetter[]) => Promise<void>);
  onError: "dlq" | "stop";
  /** Called after each commit with the partition's new next offset (commits may be partial). */
  onCommitted: (nextOffset: string) => void;
  /** The next offset this instance believes the target holds for the partition (undefined: none). */
  expectedPosition: () => string | undefined;
}

/** A target failure, classified: the runner retries `retriable` ones and sets the others aside. */
export class ApplyError extends ShadowdbError {
  constructor(code: ErrorCode, message: string, cause: unknown) {
    super(code, message, { cause });
    this.name = "ApplyError";
  }
}

function classified(ctx: ApplyContext, error: unknown): ShadowdbError {
  if (error instanceof ShadowdbError) return error;
  const { code } = ctx.classify(error);
  const native = (error as { code?: unknown; errno?: unknown }).code ?? (error as { errno?: unknown }).errno;
  const message = error instanceof Error ? error.message : String(error);
  // The database's own code (SQLSTATE / errno) tells the operator more than our class alone.
  return new ApplyError(code, native === undefined ? message : `${message} (${String(native)})`, error);
}

async function resolveShape(ctx: ApplyContext, items: Item[]): Promise<TableShape | undefined> {
  let shape: TableShape | undefined;
  let lastColumns: unknown;
  for (const item of items) {
    if (!item.columns || item.columns === lastColumns) continue;
    lastColumns = item.columns;
    shape = await ctx.tables.shapeFor(ctx.mapping, item.columns, item.key ?? []);
  }
  return shape ?? (items.some((i) => i.change) ? await ctx.tables.shapeFor(ctx.mapping, [], []) : undefined);
}

function tableWrite(shape: TableShape, items: Item[], changes: MappedChange[]): TableWrite {
  const types: Record<string, ColumnType> = {};
  for (const item of items) for (const c of item.columns ?? []) types[c.name] = c.type;
  const { truncate, deletes, upserts } = coalesce(changes);
  // Columns the target does not have are skipped (reported by TargetTables), never sent.
  const known = (row: Row) => {
    const out: Row = {};
    for (const [name, value] of Object.entries(row)) if (shape.columns.has(name)) out[name] = value;
    return out;
  };
  return { table: shape, types, truncate, deletes, upserts: upserts.map(known) };
}

function deadLetter(item: Item, error: ShadowdbError): DeadLetter {
  return {
    topic: item.record.topic,
    partition: item.record.partition,
    offset: item.record.offset,
    key: item.record.key,
    value: item.record.value,
    code: error.code,
    message: error.message,
  };
}

async function commit(ctx: ApplyContext, items: Item[], letters: DeadLetter[]): Promise<void> {
  const last = items.at(-1)!;
  const changes = items.flatMap((i) => (i.change ? [i.change] : []));
  const shape = changes.length > 0 ? await resolveShape(ctx, items) : undefined;
  if (letters.length > 0 && ctx.deadLetterSink !== "table") await ctx.deadLetterSink(letters);
  const next = (BigInt(last.record.offset) + 1n).toString();
  await ctx.target.transaction(async (tx) => {
    // Fencing: after a rebalance a slow former owner must not commit over the new owner's work.
    const { topic, partition } = last.record;
    const current = await tx.lockPosition(ctx.groupId, topic, partition);
    const expected = ctx.expectedPosition();
    if (current !== expected) {
      throw new ShadowdbError(
        "APPLY_FENCED",
        `${topic}[${partition}] is at ${current ?? "no position"} in the target, not ${expected ?? "no position"}`,
      );
    }
    if (shape) await tx.write(tableWrite(shape, items, changes));
    if (letters.length > 0 && ctx.deadLetterSink === "table") await tx.saveDeadLetters(ctx.groupId, letters);
    await tx.savePositions(ctx.groupId, [
      { topic: last.record.topic, partition: last.record.partition, offset: next },
    ]);
  });
  ctx.onCommitted(next);
}

export interface ApplyResult {
  applied: number;
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
    await commit(
      ctx,
      items.map((i) => (i.error ? { record: i.record } : i)),
      letters,
    );
    return { applied: good.filter((i) => i.change).length, deadLetters: letters };
  } catch (error) {
    const reason = classified(ctx, error);
    if (reason.retriable || ctx.onError === "stop") throw reason;
    if (reason.code === "TARGET_SCHEMA") ctx.tables.forget();
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
  for (const item of items) {
    if (item.error) {
      const letter = deadLetter(item, item.error);
      await commit(ctx, [{ record: item.record }], [letter]);
      all.push(letter);
      continue;
    }
    try {
      await commit(ctx, [item], []);
      if (item.change) applied++;
    } catch (error) {
      const reason = classified(ctx, error);
      if (reason.retriable) throw reason;
      const letter = deadLetter(item, reason);
      await commit(ctx, [{ record: item.record }], [letter]);
      all.push(letter);
    }
  }
  return { applied, deadLetters: all };
}
