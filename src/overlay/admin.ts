/**
 * Reset and diff over every installed overlay the config maps, or one table: the same work for
 * the CLI and for the HTTP admin endpoints.
 */

import { parseTableName } from "../config/identifiers.ts";
import { type Config, entryForTable } from "../config/index.ts";
import type { Value } from "../decode/values.ts";
import { ShadowdbError } from "../errors.ts";
import type { OverlayAdmin, OverlayRegistry, QualifiedName, TableDiff } from "../target/dialect.ts";
import { overlayNames } from "./names.ts";

/** `schema.table`, checked like the config's names. */
export function tableArgument(text: string): QualifiedName {
  const table = parseTableName(text);
  if (!table)
    throw new ShadowdbError("USAGE_INVALID", `table ${JSON.stringify(text)}: expected schema.table`);
  return table;
}

/** A key given as JSON text or as parsed JSON: an object of key columns with scalar values. */
export function keyArgument(input: unknown): Record<string, Value> {
  let key = input;
  if (typeof input === "string") {
    try {
      key = JSON.parse(input);
    } catch {
      throw new ShadowdbError("USAGE_INVALID", `key ${input}: not JSON`);
    }
  }
  const scalar = (v: unknown) => v === null || ["string", "number", "boolean"].includes(typeof v);
  if (typeof key !== "object" || key === null || Array.isArray(key) || !Object.values(key).every(scalar)) {
    const shown = typeof input === "string" ? input : JSON.stringify(input);
    throw new ShadowdbError(
      "USAGE_INVALID",
      `key ${shown}: expected an object of key columns, e.g. {"id": 42}`,
    );
  }
  return key as Record<string, Value>;
}

/**
 * The tables to work on: the one given, or every table whose overlay is installed and that still
 * exists (a table dropped without `overlay uninstall` leaves its registry row behind).
 */
export async function overlaidTables(
  target: OverlayRegistry,
  table: string | undefined,
): Promise<QualifiedName[]> {
  if (table !== undefined) return [tableArgument(table)];
  const present: QualifiedName[] = [];
  for (const name of await target.listOverlays()) if (await target.describe(name)) present.push(name);
  return present;
}

/**
 * The one table given, or the overlaid tables `config` maps: a shadow database can hold the
 * overlays of other configs (another instance, a retired mapping), which are not this one's to
 * list or reset.
 */
export async function mappedOverlays(
  config: Config,
  target: OverlayRegistry,
  table: string | undefined,
): Promise<QualifiedName[]> {
  const tables = await overlaidTables(target, table);
  return table !== undefined ? tables : tables.filter((name) => entryForTable(config, name) !== undefined);
}

export async function diffOverlays(
  config: Config,
  target: OverlayAdmin,
  table?: string,
): Promise<TableDiff[]> {
  const diffs: TableDiff[] = [];
  for (const name of await mappedOverlays(config, target, table)) {
    const ignore = entryForTable(config, name)?.diff.ignore ?? [];
    diffs.push(await target.diffOverlay(overlayNames(name), [...ignore]));
  }
  return diffs;
}

export interface ResetCount {
  table: string;
  reset: number;
}

export async function resetOverlays(
  config: Config,
  target: OverlayAdmin,
  table?: string,
  key?: Record<string, Value>,
): Promise<ResetCount[]> {
  if (key !== undefined && table === undefined)
    throw new ShadowdbError("USAGE_INVALID", "a key needs its table");
  const counts: ResetCount[] = [];
  for (const name of await mappedOverlays(config, target, table)) {
    const reset = await target.resetOverlay(overlayNames(name), key === undefined ? undefined : [key]);
    counts.push({ table: `${name.schema}.${name.name}`, reset });
  }
  return counts;
}

/** A diff as JSON for machines: table names as text. */
export function diffJson(diffs: TableDiff[]): { tables: unknown[] } {
  return { tables: diffs.map((d) => ({ ...d, table: `${d.table.schema}.${d.table.name}` })) };
}
