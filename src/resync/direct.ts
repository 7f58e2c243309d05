/**
 * `shadowdb resync --direct`: for teams that allow no change to production's connector, the
 * table is copied from production by shadowdb itself, page by page in key order, while apply
 * keeps running. Each page is one target transaction that first locks the table topic's position
 * rows (apply locks them before every batch, so it waits), THEN reads the page from production,
 * and upserts it through the overlay-aware write (an owned key's row goes to the production copy).
 * The sweep (sweep.ts) then deletes what production no longer has.
 *
 * Why no change is lost or applied out of order: a page is read while apply cannot commit, so it
 * holds every production change apply has already applied (and perhaps newer ones). A change
 * committed after the read reaches the shadow through apply, after the page's commit, and wins.
 * A change committed before the read that apply has not reached yet is applied again afterwards:
 * the row passes through an older value and ends at the newer one, as it would in the stream.
 * Each page is consistent in itself; the table as a whole is not one instant, and need not be,
 * because the stream carries every row from its page's read onwards. Production must be read at
 * its primary (or a replica no further behind than the connector).
 */
import { ShadowdbError } from "../errors.ts";
import type { TableShape } from "../target/dialect.ts";
import { describeSource } from "./source.ts";
import type { SweepOptions } from "./sweep.ts";

/** As the sweep is given, but production is read straight: no shadow keys to compare. */
export type DirectOptions = Omit<SweepOptions, "shadow">;

export interface DirectResult {
  /** Production rows written to the shadow table. */
  copied: number;
  /** Rows of owned keys, written to the production copy instead (the shadow's version stays). */
  toCopy: number;
  /** Production columns the target table does not have (or the mapping excludes). */
  columnsSkipped: string[];
}

export async function copyDirect(options: DirectOptions): Promise<DirectResult> {
  const { target, table, production, mapping } = options;
  if (Object.keys(mapping.columns.mask).length > 0)
    throw new ShadowdbError(
      "RESYNC_UNSUPPORTED",
      `resync --direct copies production's values as they are and ${table.name.schema}.${table.name.name} has masked columns; use the snapshot path, which masks like run`,
    );
  const source = await describeSource(production, options.source);
  const excluded = new Set(mapping.columns.exclude);
  const targetName = (c: string) => mapping.columns.rename[c] ?? c;
  const columns = [...source.columns.keys()].filter(
    (c) => !excluded.has(c) && table.columns.has(targetName(c)),
  );
  const columnsSkipped = [...source.columns.keys()].filter((c) => !columns.includes(c));
  const sourceName = new Map(columns.map((c) => [targetName(c), c]));
  const sourceKey = table.primaryKey.map((k) => sourceName.get(k));
  if (sourceKey.some((k) => k === undefined))
    throw new ShadowdbError(
      "RESYNC_SOURCE",
      `production's ${options.source.schema}.${options.source.name} lacks the shadow's key (${table.primaryKey.join(", ")})`,
    );
  const sourceTable: TableShape = { ...source, primaryKey: sourceKey as string[] };
  const pageSize = options.pageSize ?? 500;
  let after: string[] | undefined;
  let copied = 0;
  let toCopy = 0;
  for (;;) {
    const read = await target.transaction(async (tx) => {
      for (const { topic, partition } of options.positions)
        await tx.lockPosition(options.groupId, topic, partition);
      const page = await production.rows(sourceTable, columns, after, pageSize).catch((error: unknown) => {
        if (error instanceof ShadowdbError) throw error;
        throw new ShadowdbError("RESYNC_SOURCE", `reading production's rows: ${(error as Error).message}`, {
          cause: error,
        });
      });
      if (page.length === 0) return page;
      const outcome = await tx.write({
        table,
        types: {},
        upserts: page.map(({ values }) =>
          Object.fromEntries(columns.map((c, i) => [targetName(c), values[i] ?? null])),
        ),
        deletes: [],
        truncate: false,
        ...(options.overlay ? { overlay: options.overlay } : {}),
      });
      copied += page.length - outcome.toCopy;
      toCopy += outcome.toCopy;
      return page;
    });
    if (read.length === 0) break;
    after = read.at(-1)!.key;
    if (read.length < pageSize) break;
  }
  return { copied, toCopy, columnsSkipped };
}
