/**
 * Applies prepared items to the target: the whole batch, of one partition or of several (a source
 * transaction spans tables), in one transaction with its positions; if the database refuses it for
 * a reason that will not pass, record by record, so that only the bad records are set aside.
 * Retriable failures wait and try again without advancing.
 */

import { coalesce } from "../batch/coalesce.ts";
import type { Item } from "../batch/items.ts";
import type { TableMapping } from "../config/index.ts";
import type { Column, ColumnType } from "../decode/index.ts";
import type { Row } from "../decode/values.ts";
import { type ErrorCode, ShadowdbError } from "../errors.ts";
import type { MappedChange } from "../map/mapper.ts";
import { overlayNames } from "../overlay/names.ts";
import { storableLetter } from "../target/dead-letter-text.ts";
import type {
  ClassifiedError,
  DeadLetter,
  TableShape,
  TableWrite,
  TargetTransaction,
  Transactions,
  WriteOutcome,
} from "../target/dialect.ts";
import type { TargetTables } from "../target/tables.ts";

/**
 * A record set aside, reported once the commit that moved its position past it is in. `stored`
 * says what the store holds: the letter; a reduced one (the store refused the letter for good, so
 * its message is replaced by a fixed one, `refused` says why); or nothing (the reduced letter was
 * refused too: the record is skipped, and the log and the DEAD_LETTER_UNSTORABLE count tell).
 */
export interface SetAside {
  letter: DeadLetter;
  stored: "letter" | "reduced" | "nothing";
  refused?: ShadowdbError;
}

export interface ApplyContext {
  target: Transactions;
  classify: (error: unknown) => ClassifiedError;
  tables: TargetTables;
  groupId: string;
  /** The table a topic maps to; undefined for topics without rows (transaction metadata). */
  mappingFor: (topic: string) => TableMapping | undefined;
  onError: "dlq" | "stop";
  /** Changes to keys the shadow owns go to the production copy (the overlay is installed). */
  overlay: boolean;
  /** Called after each commit with a partition's new next offset (commits may be partial). */
  onCommitted: (topic: string, partition: number, nextOffset: string) => void;
  /**
   * Called right after each commit that set records aside, and only then: the record-by-record
   * fallback commits letters one at a time, and a batch interrupted after some of them (a lost
   * connection, a rebalance) never returns its result; its retry starts past them.
   */
  onDeadLetters: (setAside: SetAside[]) => void;
  /** The next offset this instance believes the target holds for a partition (undefined: none). */
  expectedPosition: (topic: string, partition: number) => string | undefined;
}

/** A target failure, classified: the runner retries `retriable` ones and sets the others aside. */
export class ApplyError extends ShadowdbError {
  constructor(code: ErrorCode, message: string, cause: unknown) {
    super(code, message, { cause });
    this.name = "ApplyError";
  }
}

export function classified(ctx: ApplyContext, error: unknown): ShadowdbError {
  if (error instanceof ShadowdbError) return error;
  const { code } = ctx.classify(error);
  const native = (error as { code?: unknown; errno?: unknown }).code ?? (error as { errno?: unknown }).errno;
  const message = error instanceof Error ? error.message : String(error);
  // The database's own code (SQLSTATE / errno) tells the operator more than our class alone.
  return new ApplyError(code, native === undefined ? message : `${message} (${String(native)})`, error);
}

/**
 * The first item of each run of items with the same decoded schema (the mapper hands out one
 * columns array per schema): what only changes when the schema does is worked out once a run.
 */
function* schemaRuns(items: Item[]): Generator<Item & { columns: Column[] }> {
  let lastColumns: Column[] | undefined;
  for (const item of items) {
    if (!item.columns || item.columns === lastColumns) continue;
    lastColumns = item.columns;
    yield item as Item & { columns: Column[] };
  }
}

export async function resolveShape(
  ctx: ApplyContext,
  mapping: TableMapping,
  items: Item[],
): Promise<TableShape | undefined> {
  let shape: TableShape | undefined;
  for (const item of schemaRuns(items))
    shape = await ctx.tables.shapeFor(mapping, item.columns, item.key ?? []);
  return shape ?? (items.some((i) => i.change) ? await ctx.tables.shapeFor(mapping, [], []) : undefined);
}

function tableWrite(
  ctx: ApplyContext,
  shape: TableShape,
  items: Item[],
  changes: MappedChange[],
): TableWrite {
  const types: Record<string, ColumnType> = {};
  for (const item of schemaRuns(items)) for (const c of item.columns) types[c.name] = c.type;
  const { truncate, deletes, upserts } = coalesce(changes);
  // Columns the target does not have are skipped (reported by TargetTables), never sent.
  const known = (row: Row) => {
    let all = true;
    for (const name in row) if (!shape.columns.has(name)) all = false;
    if (all) return row;
    const out: Row = {};
    for (const [name, value] of Object.entries(row)) if (shape.columns.has(name)) out[name] = value;
    return out;
  };
  const write: TableWrite = {
    table: shape,
    types,
    truncate,
    deletes,
    upserts: covered(shape, items) ? upserts : upserts.map(known),
  };
  if (ctx.overlay) write.overlay = overlayNames(shape.name);
  return write;
}

/**
 * Whether the target has every column the upserts of `items` can name, told once per schema: a
 * schema's rows carry its columns and the key's (which win even where the mapping excludes one).
 * A loose row (no schema) is never covered; its rows are looked at one by one.
 */
function covered(shape: TableShape, items: Item[]): boolean {
  let lastColumns: Column[] | undefined;
  let lastKey: string[] | undefined;
  for (const item of items) {
    if (item.change?.kind !== "upsert" || (item.columns === lastColumns && item.key === lastKey)) continue;
    if (!item.columns?.length || !item.key) return false;
    for (const c of item.columns) if (!shape.columns.has(c.name)) return false;
    for (const k of item.key) if (!shape.columns.has(k)) return false;
    lastColumns = item.columns;
    lastKey = item.key;
  }
  return true;
}

/** The items of one partition, in offset order: the unit of fencing and of positions. */
export interface Slice {
  topic: string;
  partition: number;
  items: Item[];
}

export function slices(items: Item[]): Slice[] {
  const byPartition = new Map<string, Slice>();
  for (const item of items) {
    const { topic, partition } = item.record;
    const id = `${topic}\u0000${partition}`;
    const slice = byPartition.get(id) ?? { topic, partition, items: [] };
    byPartition.set(id, slice);
    slice.items.push(item);
  }
  return [...byPartition.values()];
}

/** Each partition's changes as one write to its table; partitions without changes write nothing. */
export async function tableWrites(ctx: ApplyContext, parts: Slice[]): Promise<TableWrite[]> {
  const writes: TableWrite[] = [];
  for (const { topic, items } of parts) {
    const changes = items.flatMap((i) => (i.change ? [i.change] : []));
    const mapping = changes.length > 0 ? ctx.mappingFor(topic) : undefined;
    const shape = mapping ? await resolveShape(ctx, mapping, items) : undefined;
    if (shape) writes.push(tableWrite(ctx, shape, items, changes));
  }
  return writes;
}

export function add(total: WriteOutcome, outcome: WriteOutcome): void {
  total.toCopy += outcome.toCopy;
  total.lostInserts += outcome.lostInserts;
  total.hidden += outcome.hidden;
}

/** The record's letter, its text as the store will hold it: what is logged is what is stored. */
export function deadLetter(item: Item, error: ShadowdbError): DeadLetter {
  return storableLetter({
    topic: item.record.topic,
    partition: item.record.partition,
    offset: item.record.offset,
    key: item.record.key,
    value: item.record.value,
    code: error.code,
    message: error.message,
  });
}

/** A refused letter's last try: coordinates, code and raw bytes, with a fixed ASCII message. */
export function reduced(letter: DeadLetter, refused: ShadowdbError | undefined): DeadLetter {
  const why = refused ? ` (${refused.code})` : "";
  return { ...letter, message: `the store refused this letter's message${why}; shadowdb's log has it` };
}

function toStore(setAside: SetAside[]): DeadLetter[] {
  const letters: DeadLetter[] = [];
  for (const { letter, stored, refused } of setAside) {
    if (stored === "letter") letters.push(letter);
    else if (stored === "reduced") letters.push(reduced(letter, refused));
  }
  return letters;
}

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
  const expected = ctx.expectedPosition(topic, partition);
  if (current !== expected) {
    throw new ShadowdbError(
      "APPLY_FENCED",
      `${topic}[${partition}] is at ${current ?? "no position"} in the target, not ${expected ?? "no position"}`,
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
  for (const p of positions) ctx.onCommitted(p.topic, p.partition, p.offset);
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
  let refused: ShadowdbError | undefined;
  for (const stored of ["letter", "reduced", "nothing"] as const) {
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
      letters.map((letter) => ({ letter, stored: "letter" as const })),
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
