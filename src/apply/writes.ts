/**
 * What one transaction writes: each partition's changes, coalesced per key, as one write to its
 * table, with the table's shape looked up (and schema following run) once per decoded schema.
 */
import { coalesce } from "../batch/coalesce.ts";
import type { Item } from "../batch/items.ts";
import type { TableMapping } from "../config/index.ts";
import type { Column, ColumnType } from "../decode/index.ts";
import type { Row } from "../decode/values.ts";
import type { MappedChange } from "../map/mapper.ts";
import { overlayNames } from "../overlay/names.ts";
import { type PartitionId, partitionId } from "../source/partition.ts";
import type { TableShape, TableWrite, WriteOutcome } from "../target/dialect.ts";
import type { ApplyContext } from "./context.ts";

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
  const byPartition = new Map<PartitionId, Slice>();
  for (const item of items) {
    const { topic, partition } = item.record;
    const id = partitionId(topic, partition);
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
