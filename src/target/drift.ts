/**
 * Schema following's decisions (docs/schema.md), from three facts: the columns an event carries
 * (production now), the shadow table as the database describes it (never what this process saw
 * before: it may have restarted), and production's columns as shadowdb last recorded them
 * (shadowdb_columns). A column production has and the shadow lacks is new when it was never
 * recorded (added), and the shadow's own doing when it was (its migration dropped or renamed it:
 * kept away). Columns only the shadow has are never touched.
 */
import type { Column } from "../decode/index.ts";
import type { ColumnChange, KnownColumn, TableShape } from "./dialect.ts";
import { type Dialect, parseSqlType, productionShape, renderType, widen } from "./type-shape.ts";

export type Follow = "safe" | "none";

/**
 * added, widened, relaxed: done. kept: not followed on purpose (the shadow's own change, or a
 * column missing when shadowdb first saw the table). drift: not followed by policy (none) or
 * because the change cannot be made safely. failed: the ALTER was refused.
 */
export type DriftAction = "added" | "widened" | "relaxed" | "kept" | "drift" | "failed";

export interface DriftEntry {
  column: string;
  /** Production's type as the event tells it (absent: production no longer sends the column). */
  production?: string;
  /** The shadow's type (absent: the shadow lacks the column). */
  shadow?: string;
  action: DriftAction;
  detail: string;
}

export interface SchemaPlan {
  changes: ColumnChange[];
  /** One entry per change, in the same order, then the decisions that change nothing. */
  entries: DriftEntry[];
  /** Production's columns to record (all the event carries, with their types). */
  record: KnownColumn[];
}

export interface PlanInput {
  columns: Column[];
  key: string[];
  shape: TableShape;
  /** undefined: nothing recorded yet for this table. */
  known: Map<string, string> | undefined;
  follow: Follow;
  dialect: Dialect;
  /** The DDL type of a column production added, where its shape says nothing more exact. */
  fallbackType: (column: Column) => string;
}

const identifier = /^[A-Za-z_][A-Za-z0-9_$]{0,62}$/;

/**
 * Production's type of an event column, as text (recorded, and shown in drift reports): in the
 * target dialect's own words where the event tells enough, so that it parses like a shadow type.
 */
export function productionType(column: Column, dialect: Dialect): string {
  const shape = productionShape(column, dialect);
  if (shape) return renderType(shape, dialect);
  return column.type.source?.type?.toLowerCase() ?? column.type.kind;
}

/**
 * Drift as the target alone tells it (`shadowdb status`, no running instance): production's
 * recorded columns the shadow lacks, and those whose recorded type is wider than the shadow's.
 */
export function recordedDrift(known: Map<string, string>, shape: TableShape, dialect: Dialect): DriftEntry[] {
  const entries: DriftEntry[] = [];
  for (const [column, production] of known) {
    const target = shape.columns.get(column);
    if (!target) {
      entries.push({ column, production, action: "drift", detail: "production has it, the shadow does not" });
      continue;
    }
    const current = parseSqlType(target.sqlType, dialect);
    const wanted = parseSqlType(production, dialect);
    const wider = current && wanted ? widen(current, wanted, dialect) : undefined;
    if (wider)
      entries.push({
        column,
        production,
        shadow: target.sqlType,
        action: "drift",
        detail: `production's type is wider: would need ${renderType(wider, dialect)}`,
      });
  }
  return entries;
}

const temporalKinds = new Set(["date", "timestamp", "timestamptz"]);
const epochZero = /^1970-01-01(?:[T ]00:00:00(?:\.0+)?(?:Z|[+-]00:00)?)?$/;

/**
 * Why Debezium's default of a column cannot be trusted, or undefined when it can. Measured on both
 * connectors: a string default with a quote or a backslash arrives mangled (PostgreSQL cuts 'x''y'
 * to x; MariaDB sends its SQL text, x''y and a\\b), and an expression default (now(),
 * CURRENT_TIMESTAMP) arrives as 1970-01-01. Added with it, the column would read unlike production.
 */
function untrustedDefault(column: Column): string | undefined {
  const value = column.type.default;
  if (typeof value !== "string") return undefined;
  if (value.includes("'") || value.includes("\\")) return "a quote or backslash Debezium mangles";
  if (temporalKinds.has(column.type.kind) && epochZero.test(value))
    return "1970-01-01: an expression such as CURRENT_TIMESTAMP, which Debezium does not carry";
  return undefined;
}

export function planSchema(input: PlanInput): SchemaPlan {
  const { columns, shape, known, follow, dialect } = input;
  const plan: SchemaPlan = { changes: [], entries: [], record: [] };
  const later: DriftEntry[] = [];
  const sent = new Set<string>();
  for (const c of columns) {
    sent.add(c.name);
    const production = productionType(c, dialect);
    plan.record.push({ name: c.name, type: production });
    const target = shape.columns.get(c.name);
    if (!target) {
      if (!identifier.test(c.name)) {
        later.push({ column: c.name, production, action: "kept", detail: "not a column name shadowdb adds" });
      } else if (known === undefined) {
        later.push({
          column: c.name,
          production,
          action: "kept",
          detail:
            "missing from the shadow when shadowdb first recorded the table: taken as the shadow's own (resync to add it)",
        });
      } else if (known.has(c.name)) {
        later.push({
          column: c.name,
          production,
          action: "kept",
          detail: "dropped or renamed by the shadow's migration",
        });
      } else if (follow === "none") {
        later.push({
          column: c.name,
          production,
          action: "drift",
          detail: "production added it (schema.follow: none)",
        });
      } else {
        const wanted = productionShape(c, dialect);
        const sqlType =
          wanted && wanted.family !== "enum" && wanted.family !== "set"
            ? renderType(wanted, dialect)
            : input.fallbackType(c);
        const untrusted = untrustedDefault(c);
        const type = untrusted === undefined ? c.type : { ...c.type, default: undefined };
        plan.changes.push({ op: "add", column: { name: c.name, type }, sqlType });
        const notes = [
          c.type.default === undefined
            ? "no default"
            : untrusted !== undefined
              ? `default not carried (${untrusted})`
              : "with production's default",
          c.type.optional || type.default === undefined ? "nullable" : "NOT NULL",
        ];
        plan.entries.push({
          column: c.name,
          production,
          action: "added",
          detail: `production added it: ${notes.join(", ")}`,
        });
      }
      continue;
    }
    const current = parseSqlType(target.sqlType, dialect);
    const wanted = productionShape(c, dialect);
    const wider = current && wanted ? widen(current, wanted, dialect) : undefined;
    if (!wider) continue;
    const sqlType = renderType(wider, dialect);
    if (follow === "none") {
      later.push({
        column: c.name,
        production,
        shadow: target.sqlType,
        action: "drift",
        detail: `production's type is wider: would need ${sqlType} (schema.follow: none)`,
      });
      continue;
    }
    plan.changes.push({ op: "widen", column: c.name, sqlType });
    plan.entries.push({
      column: c.name,
      production,
      shadow: target.sqlType,
      action: "widened",
      detail: `${target.sqlType} → ${sqlType}`,
    });
  }
  // Empty column lists (schemaless rows) tell nothing about what production stopped sending.
  if (known !== undefined && columns.length > 0) {
    for (const t of shape.columns.values()) {
      if (sent.has(t.name) || !known.has(t.name)) continue;
      const production = undefined;
      if (t.nullable || t.hasDefault !== false || shape.primaryKey.includes(t.name)) {
        later.push({
          column: t.name,
          production,
          shadow: t.sqlType,
          action: "kept",
          detail: "production no longer sends it (dropped or renamed): kept as it is",
        });
      } else if (follow === "none") {
        later.push({
          column: t.name,
          production,
          shadow: t.sqlType,
          action: "drift",
          detail:
            "production no longer sends it and it is NOT NULL without a default: new rows fail (schema.follow: none)",
        });
      } else {
        plan.changes.push({ op: "relax", column: t.name });
        plan.entries.push({
          column: t.name,
          production,
          shadow: t.sqlType,
          action: "relaxed",
          detail: "production no longer sends it: NOT NULL dropped so rows can be written",
        });
      }
    }
  }
  for (const e of later) plan.entries.push(e);
  return plan;
}
