/**
 * Decoded events → changes named and shaped for one target table: routed by the config's
 * mapping, columns renamed or excluded, masked, the TOAST marker turned into "leave as stored".
 */
import type { TableMapping } from "../config/index.ts";
import type { Column, ColumnType, RowChange, Truncate } from "../decode/index.ts";
import { preview } from "../decode/limits.ts";
import { type Row, UNCHANGED, type Value } from "../decode/values.ts";
import { ShadowdbError } from "../errors.ts";
import { mask } from "./mask.ts";

export type MappedChange =
  | { kind: "upsert"; keyId: string; row: Row }
  | { kind: "delete"; keyId: string; key: Row }
  | { kind: "truncate" };

/** A stable text for a key's values, for coalescing changes per key. */
export function keyIdentity(values: Value[]): string {
  // One plain value (the usual key) needs no JSON; a letter tag keeps it apart from the JSON
  // arrays below, which begin with "[", and from other types.
  if (values.length === 1) {
    const v = values[0];
    if (typeof v === "bigint") return `n${v}`;
    if (typeof v === "string") return `s${v}`;
  }
  // Tagged so that 1n, "1n" and a Buffer's bytes never read alike; Buffers are tagged before
  // JSON.stringify would call their toJSON.
  const tagged = values.map((v) =>
    typeof v === "bigint" ? { $n: v.toString() } : Buffer.isBuffer(v) ? { $b: v.toString("hex") } : v,
  );
  return JSON.stringify(tagged);
}

// Decoded events of one schema share one columns array, so their type lookup is built once.
const typesByColumns = new WeakMap<Column[], Map<string, ColumnType>>();

function typesOf(columns: Column[]): Map<string, ColumnType> {
  let types = typesByColumns.get(columns);
  if (!types) {
    types = new Map(columns.map((c) => [c.name, c.type] as const));
    typesByColumns.set(columns, types);
  }
  return types;
}

/** What an event's columns become in the target, worked out once per decoded schema. */
interface ColumnPlan {
  targetColumns: Column[];
  /** Source name → target name, for the columns that are not excluded. */
  names: Map<string, string>;
  /** Every column keeps its name and nothing is masked: a row can be the event's own. */
  identity: boolean;
}

export class Mapper {
  private readonly excluded: Set<string>;
  // The last schema's plan and key names: a topic's events share their decoded schema's arrays.
  private lastColumns: Column[] | undefined;
  private lastPlan: ColumnPlan | undefined;
  private lastKeySource: readonly string[] | undefined;
  private lastKeyNames: string[] = [];

  constructor(
    readonly mapping: TableMapping,
    private readonly hmacKey?: string,
  ) {
    this.excluded = new Set(mapping.columns.exclude);
    // Checked here, where the run starts, not per value: mask() runs inside the per-record
    // decode-and-map step, where a catalogued error would set every record aside as a dead
    // letter instead of stopping on a config that cannot work.
    const hashed = Object.values(mapping.columns.mask).some((rule) => rule.strategy === "hash");
    if (hashed && hmacKey === undefined)
      throw new ShadowdbError("MAP_MASK_KEY_MISSING", "masking.key is required for strategy hash");
  }

  /** The target name of a source column, or undefined when it is excluded. */
  targetName(source: string): string | undefined {
    if (this.excluded.has(source)) return undefined;
    return this.mapping.columns.rename[source] ?? source;
  }

  private plan(columns: Column[]): ColumnPlan {
    let plan = this.lastPlan;
    if (columns !== this.lastColumns || !plan) {
      const targetColumns: Column[] = [];
      const names = new Map<string, string>();
      for (const c of columns) {
        const name = this.targetName(c.name);
        if (name === undefined) continue;
        targetColumns.push({ name, type: c.type });
        names.set(c.name, name);
      }
      const identity =
        targetColumns.length === columns.length &&
        targetColumns.every((c, i) => c.name === columns[i]!.name) &&
        Object.keys(this.mapping.columns.mask).length === 0;
      plan = { targetColumns, names, identity };
      this.lastColumns = columns;
      this.lastPlan = plan;
    }
    return plan;
  }

  /**
   * The event's columns as the target sees them (renamed, without excluded ones): one array per
   * decoded schema in a row, so that its users can tell a schema they have just seen by identity.
   */
  targetColumns(columns: Column[]): Column[] {
    return this.plan(columns).targetColumns;
  }

  /** The event's key columns by their target names (kept per key schema, like targetColumns). */
  targetKey(event: RowChange): string[] {
    const source = this.mapping.key ?? event.keyColumns;
    // No key is never kept: keyColumns must refuse it (MAP_NO_KEY) every time.
    if (source !== this.lastKeySource || source.length === 0) {
      this.lastKeyNames = this.keyColumns(event).map((c) => this.targetName(c) ?? c);
      this.lastKeySource = source;
    }
    return this.lastKeyNames;
  }

  /** Source key columns: the configured ones, else the message key's fields. */
  keyColumns(event: RowChange): string[] {
    const key = this.mapping.key ?? event.keyColumns;
    if (key.length === 0) {
      throw new ShadowdbError(
        "MAP_NO_KEY",
        `${this.mapping.table.schema}.${this.mapping.table.name}: the event has no key; configure tables[${this.mapping.entry}].key`,
      );
    }
    return [...key];
  }

  map(event: RowChange | Truncate): MappedChange {
    if (event.op === "t") return { kind: "truncate" };
    const types = typesOf(event.columns);
    const keyColumns = this.keyColumns(event);
    if (event.op === "d") {
      const source = { ...event.before, ...event.key };
      const key = this.keyRow(keyColumns, source, types);
      return { kind: "delete", keyId: keyIdentity(Object.values(key)), key };
    }
    const after = event.after!;
    const { names, identity } = this.plan(event.columns);
    const key = this.keyRow(keyColumns, after, types);
    // Nothing to rename, drop or mask: the event's row is the target's, unless a column is
    // unchanged (TOAST) or the row is loose.
    if (identity && ownRow(after, event.columns))
      return { kind: "upsert", keyId: keyIdentity(Object.values(key)), row: after };
    const masks = this.mapping.columns.mask;
    const row: Row = {};
    for (const column in after) {
      const value = after[column]!;
      // A column outside the event's schema (a loose row) is named on the spot.
      const name = names.get(column) ?? this.targetName(column);
      if (name === undefined || value === UNCHANGED) continue;
      const rule = masks[column];
      row[name] = rule ? mask(value, rule, types.get(column), this.hmacKey) : value;
    }
    // The key's values win, also for a key column the mapping excludes.
    for (const name in key) row[name] = key[name]!;
    return { kind: "upsert", keyId: keyIdentity(Object.values(key)), row };
  }

  private keyRow(keyColumns: string[], source: Row, types: Map<string, ColumnType>): Row {
    const key: Row = {};
    for (const column of keyColumns) {
      const value = source[column];
      if (value === undefined || value === UNCHANGED) {
        // The name can come from the record's own key schema: quoted bounded and escaped.
        throw new ShadowdbError(
          "MAP_KEY_COLUMN_MISSING",
          `key column ${JSON.stringify(preview(column, 80))} is absent from the event`,
        );
      }
      const rule = this.mapping.columns.mask[column];
      key[this.targetName(column) ?? column] = rule
        ? mask(value, rule, types.get(column), this.hmacKey)
        : value;
    }
    return key;
  }
}

/**
 * Whether `after` can stand as the target row under an identity plan: no column is unchanged. A
 * schema's row has exactly its columns; a loose row (no schema, no columns) is never its own.
 */
function ownRow(after: Row, columns: Column[]): boolean {
  if (columns.length === 0) return false;
  for (const c of columns) if (after[c.name] === UNCHANGED) return false;
  return true;
}
