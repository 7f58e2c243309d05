/**
 * The rows an incremental snapshot cannot correct: keys the shadow has that production no longer
 * has (a delete the events never carried). The sweep reads the shadow's keys page by page and,
 * for each page, in one target transaction: locks the table topic's position rows (as apply does
 * before every batch, so apply waits), asks production which of the keys it has NOW, and deletes
 * the others through the overlay-aware write (an owned key's delete goes to the production copy,
 * so the shadow's own rows stay).
 *
 * Why this loses nothing while the stream runs: a key is deleted only if production lacks it at
 * a moment when apply cannot commit. A row production inserted before that moment is seen and
 * kept; one inserted after it reaches the shadow only through apply, which commits after the
 * sweep's transaction. A delete the stream has not applied yet finds nothing to delete later.
 * Production must be read at its primary (or a replica no further behind than the connector):
 * a lagging replica could lack a row the stream has already applied.
 */
import type { TableMapping } from "../config/tables.ts";
import { ShadowdbError } from "../errors.ts";
import type { KeyReader, OverlayNames, QualifiedName, TableShape, Transactions } from "../target/dialect.ts";
import { describeSource } from "./source.ts";

export interface SweepOptions {
  target: Transactions;
  /** The shadow table as the target has it. */
  table: TableShape;
  overlay?: OverlayNames;
  shadow: KeyReader;
  production: KeyReader;
  /** Production's table (the connector's data collection). */
  source: QualifiedName;
  mapping: TableMapping;
  groupId: string;
  /** The partitions of the table's topic whose position rows serialise the sweep with apply. */
  positions: { topic: string; partition: number }[];
  pageSize?: number;
}

export interface SweepResult {
  checked: number;
  deleted: number;
}

export async function sweepDeleted(options: SweepOptions): Promise<SweepResult> {
  const { target, table, shadow, production, mapping } = options;
  const sourceShape = await describeSource(production, options.source);
  // The shadow's key columns by production's names (the mapping's renames undone).
  const sourceName = new Map(Object.entries(mapping.columns.rename).map(([from, to]) => [to, from]));
  const sourceKey = table.primaryKey.map((k) => sourceName.get(k) ?? k);
  const missing = sourceKey.filter((k) => !sourceShape.columns.has(k));
  if (missing.length > 0)
    throw new ShadowdbError(
      "RESYNC_SOURCE",
      `production's ${options.source.schema}.${options.source.name} has no column ${missing.join(", ")} of the shadow's key`,
    );
  const sourceTable: TableShape = { ...sourceShape, primaryKey: sourceKey };
  const pageSize = options.pageSize ?? 500;
  let after: string[] | undefined;
  let checked = 0;
  let deleted = 0;
  for (;;) {
    const page = await shadow.keys(table, after, pageSize);
    if (page.length === 0) break;
    after = page.at(-1);
    checked += page.length;
    deleted += await target.transaction(async (tx) => {
      for (const { topic, partition } of options.positions)
        await tx.lockPosition(options.groupId, topic, partition);
      const present = await production.present(sourceTable, page).catch((error: unknown) => {
        throw new ShadowdbError("RESYNC_SOURCE", `reading production's keys: ${(error as Error).message}`, {
          cause: error,
        });
      });
      const gone = page.filter((_, i) => !present.has(i));
      if (gone.length === 0) return 0;
      const outcome = await tx.write({
        table,
        types: {},
        upserts: [],
        deletes: gone.map((key) => Object.fromEntries(table.primaryKey.map((k, i) => [k, key[i] ?? null]))),
        truncate: false,
        ...(options.overlay ? { overlay: options.overlay } : {}),
      });
      // An owned key's delete went to the production copy: the shadow's row stays.
      return gone.length - outcome.toCopy;
    });
    if (page.length < pageSize) break;
  }
  return { checked, deleted };
}
