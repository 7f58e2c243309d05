/**
 * COPY for large upsert groups (the initial snapshot, a backlog): rows stream in COPY's text
 * format into a session-local staging table typed exactly like the target, and set-based SQL
 * takes them from there. Staging is its own step so that later statements (the overlay's lock,
 * ownership check and re-routing) can run against the same staged rows.
 */
import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type pg from "pg";
import { from as copyFrom } from "pg-copy-streams";
import type { TableShape } from "../dialect.ts";
import { ident } from "./sql.ts";

/**
 * Groups of at least this many rows go through COPY. Measured by bench/copy (16-column table,
 * updates, one transaction per group, three runs): COPY loses on small groups (it costs a COPY
 * round trip and a second statement: 0.5x at 10 rows, 0.7-0.8x at 100), is even around 200-500
 * (0.9-1.1x, within the noise), wins in every run from 1000 rows (1.07-1.21x) and by 1.4-1.6x at
 * 5000. With an array column, which sends unnest to row-by-row VALUES, COPY wins by 3-4x.
 */
export const defaultCopyThreshold = 1000;

const special = /[\\\t\n\r]/;
const escapes: Record<string, string> = { "\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r" };

/** Text in a COPY text-format field: backslash, and the row and column separators, escaped. */
export function copyEscape(text: string): string {
  return special.test(text) ? text.replace(/[\\\t\n\r]/g, (c) => escapes[c]!) : text;
}

function elementText(value: unknown): string {
  return typeof value === "object" ? JSON.stringify(value) : String(value);
}

/**
 * A JS array as a PostgreSQL array literal, exactly as `pg` renders an array parameter (the
 * unnest path's form), so that both paths hand the server the same text.
 */
export function arrayLiteral(values: readonly unknown[]): string {
  let out = "{";
  for (let i = 0; i < values.length; i++) {
    if (i > 0) out += ",";
    const v = values[i];
    if (v === null || v === undefined) out += "NULL";
    else if (Array.isArray(v)) out += arrayLiteral(v);
    else if (Buffer.isBuffer(v)) out += `\\\\x${v.toString("hex")}`;
    else out += `"${elementText(v).replaceAll("\\", "\\\\").replaceAll('"', '\\"')}"`;
  }
  return `${out}}`;
}

/** A query parameter (as postgresParam returns it) as one COPY text field; `\N` is NULL. */
export function copyField(value: unknown): string {
  if (value === null || value === undefined) return "\\N";
  if (typeof value === "string") return copyEscape(value);
  if (typeof value === "number" || typeof value === "boolean" || typeof value === "bigint")
    return String(value);
  // bytea's hex input form; its backslash is COPY-escaped.
  if (Buffer.isBuffer(value)) return `\\\\x${value.toString("hex")}`;
  if (Array.isArray(value)) return copyEscape(arrayLiteral(value));
  return copyEscape(JSON.stringify(value));
}

// Large enough that the per-message overhead vanishes, small enough to keep memory flat.
const chunkChars = 1 << 16;

function* copyText(rows: Iterable<readonly unknown[]>): Generator<string> {
  let text = "";
  for (const row of rows) {
    for (let i = 0; i < row.length; i++) text += (i === 0 ? "" : "\t") + copyField(row[i]);
    text += "\n";
    if (text.length >= chunkChars) {
      yield text;
      text = "";
    }
  }
  if (text.length > 0) yield text;
}

/**
 * The staging tables of one session. Temporary tables live as long as the connection, so this
 * object must be replaced with the connection. It only works inside a transaction: the tables
 * are ON COMMIT DELETE ROWS, so staged rows never outlive the statement that uses them.
 */
export class StagingTables {
  /** Staging tables that exist in the session. */
  private readonly existing = new Set<string>();
  /** Created in the open transaction: a rollback takes them away again. */
  private readonly created = new Set<string>();
  /** Filled in the open transaction: the commit empties them, a second use must do it itself. */
  private readonly filled = new Set<string>();

  /**
   * Streams `rows` (query parameters in `columns` order) into the staging table of the target
   * table and column set, and returns its qualified name for the statements that follow.
   */
  async stage(
    client: pg.ClientBase,
    table: TableShape,
    columns: readonly string[],
    rows: Iterable<readonly unknown[]>,
  ): Promise<string> {
    const types = columns.map((c) => table.columns.get(c)?.sqlType);
    // Named by what it holds, so that IF NOT EXISTS can never pick up a table of another shape.
    const hash = createHash("sha1")
      .update(JSON.stringify([table.name, columns, types]))
      .digest("hex")
      .slice(0, 24);
    const name = `pg_temp.${ident(`shadowdb_stage_${hash}`)}`;
    if (!this.existing.has(name)) {
      const defs = columns.map((c, i) => `${ident(c)} ${types[i] ?? "text"}`).join(", ");
      await client.query(`CREATE TEMP TABLE IF NOT EXISTS ${name} (${defs}) ON COMMIT DELETE ROWS`);
      this.existing.add(name);
      this.created.add(name);
    } else if (this.filled.has(name)) {
      await client.query(`TRUNCATE ${name}`);
    }
    this.filled.add(name);
    const copy = client.query(copyFrom(`COPY ${name} (${columns.map(ident).join(", ")}) FROM STDIN`));
    await pipeline(Readable.from(copyText(rows)), copy);
    return name;
  }

  /** To be called when the transaction has ended, with whether it committed. */
  settle(committed: boolean): void {
    if (!committed) for (const name of this.created) this.existing.delete(name);
    this.created.clear();
    this.filled.clear();
  }
}
