/**
 * Target tables as the apply step needs them: looked up once, created from the event schema when
 * missing, and following production's schema changes (docs/schema.md, decisions in drift.ts):
 * each distinct event schema is compared with the table as the database describes it and with
 * production's columns as last recorded in the target (shadowdb_columns), so that a restart
 * changes nothing. Nothing is ever dropped, and columns only the shadow has are never touched.
 */
import type { TableMapping } from "../config/index.ts";
import type { Column } from "../decode/index.ts";
import type { Logger } from "../log.ts";
import { overlayNames } from "../overlay/names.ts";
import type { IdHeadroom, OverlayUpkeep, QualifiedName, SchemaUpkeep, TableShape } from "./dialect.ts";
import { type DriftEntry, type Follow, planSchema, productionType } from "./drift.ts";
import { mysqlType } from "./mysql/types.ts";
import { postgresType } from "./postgres/types.ts";

const identifier = /^[A-Za-z_][A-Za-z0-9_$]{0,62}$/;

export interface SchemaFollowing {
  /** The top-level schema.follow; a table entry's own overrides it. */
  follow: Follow;
  /** Hears each new decision once (metrics). */
  onDecision?: (table: string, entry: DriftEntry) => void;
  /** Whether a failed ALTER may pass (a lost connection): then the batch is retried, not reported. */
  retriable?: (error: unknown) => boolean;
}

export class TargetTables {
  private readonly shapes = new Map<string, TableShape>();
  /** Event schemas (the mapper's one columns array per schema) already compared, per table. */
  private planned = new Map<string, WeakSet<Column[]>>();
  /** Production's columns as recorded in the target, per table (undefined: none recorded). */
  private readonly known = new Map<string, Map<string, string> | undefined>();
  /** Event columns the target lacks and shadowdb does not add, per table, reported once each. */
  readonly skipped = new Map<string, Set<string>>();
  /** Schema following's latest decision per table and column: drift, for status. */
  readonly drift = new Map<string, Map<string, DriftEntry>>();
  /** Tables whose overlay is installed for their current columns. */
  private readonly overlaid = new Set<string>();
  /** Every table whose overlay this process installed, for the periodic id check. */
  private readonly installed = new Map<string, QualifiedName>();
  /** The last id headroom seen per table and column (for status and metrics). */
  readonly idHeadroom = new Map<string, IdHeadroom[]>();

  constructor(
    private readonly target: SchemaUpkeep & OverlayUpkeep,
    private readonly log: Logger,
    /**
     * Install each table's overlay before its first write (and again when it gains columns), and
     * keep the shadow's own ids `idHeadroom` above production's.
     */
    private readonly overlay?: { idHeadroom: bigint },
    private readonly schema: SchemaFollowing = { follow: "safe" },
  ) {}

  async shapeFor(mapping: TableMapping, columns: Column[], key: string[]): Promise<TableShape> {
    const name: QualifiedName = mapping.table;
    const id = `${name.schema}.${name.name}`;
    const cached = this.shapes.get(id);
    let shape = cached ?? (await this.target.describe(name));
    if (!shape) {
      const creatable = columns.filter((c) => identifier.test(c.name));
      this.log.info(
        { table: id, columns: creatable.length },
        "creating the target table from the event schema",
      );
      await this.target.createTable(name, creatable, key);
      const dialect = this.target.dialect;
      await this.record(
        id,
        name,
        creatable.map((c) => ({ name: c.name, type: productionType(c, dialect) })),
      );
      shape = (await this.target.describe(name))!;
    }
    const planned = this.planned.get(id) ?? new WeakSet();
    this.planned.set(id, planned);
    if (columns.length > 0 && !planned.has(columns)) {
      // A new event schema is compared with the table as it is now, not as cached.
      if (cached) shape = (await this.target.describe(name)) ?? shape;
      shape = await this.follow(mapping, id, shape, columns, key);
      planned.add(columns);
    }
    for (const c of columns) {
      if (shape.columns.has(c.name)) continue;
      const seen = this.skipped.get(id) ?? new Set();
      seen.add(c.name);
      this.skipped.set(id, seen);
    }
    if (this.overlay && !this.overlaid.has(id)) {
      await this.target.installOverlay(overlayNames(name));
      this.overlaid.add(id);
      this.installed.set(id, name);
      await this.checkIds(name);
    }
    this.shapes.set(id, shape);
    return shape;
  }

  /** Compares one event schema with the table and production's record; alters, records, reports. */
  private async follow(
    mapping: TableMapping,
    id: string,
    shape: TableShape,
    columns: Column[],
    key: string[],
  ): Promise<TableShape> {
    const name = mapping.table;
    const dialect = this.target.dialect;
    if (!this.known.has(id)) this.known.set(id, await this.target.knownColumns(name));
    const known = this.known.get(id);
    const plan = planSchema({
      columns,
      key,
      shape,
      known,
      follow: mapping.schemaFollow ?? this.schema.follow,
      dialect,
      fallbackType: (c) => (dialect === "postgres" ? postgresType(c.type) : mysqlType(c.type, false)),
    });
    let current = shape;
    if (plan.changes.length > 0) {
      const copy = this.overlay ? overlayNames(name).copy : undefined;
      // One change at a time: a refused one is reported alone, the others are still made.
      for (const [i, change] of plan.changes.entries()) {
        try {
          await this.target.alterColumns(name, [change], copy);
        } catch (error) {
          // A lost connection is retried with the batch; a refusal is drift, and apply goes on.
          if (this.schema.retriable?.(error)) throw error;
          this.log.error({ table: id, err: error }, "could not follow production's schema change");
          const entry = plan.entries[i]!;
          entry.action = "failed";
          entry.detail = `${entry.detail}; refused: ${error instanceof Error ? error.message : String(error)}`;
        }
      }
      current = (await this.target.describe(name)) ?? shape;
      this.overlaid.delete(id);
    }
    for (const e of plan.entries) this.report(id, e);
    const changed = plan.record.filter((c) => known?.get(c.name) !== c.type);
    if (known === undefined || changed.length > 0)
      await this.record(id, name, known === undefined ? plan.record : changed);
    return current;
  }

  private async record(id: string, name: QualifiedName, columns: { name: string; type: string }[]) {
    await this.target.recordColumns(name, columns);
    const known = this.known.get(id) ?? new Map<string, string>();
    for (const c of columns) known.set(c.name, c.type);
    this.known.set(id, known);
  }

  /** Drift per table, for status: each column's latest decision. */
  driftReport(): Record<string, DriftEntry[]> {
    const report: Record<string, DriftEntry[]> = {};
    for (const [table, entries] of this.drift) report[table] = [...entries.values()];
    return report;
  }

  /** Logs and counts a decision the first time it is made for the column. */
  private report(id: string, entry: DriftEntry): void {
    const table = this.drift.get(id) ?? new Map<string, DriftEntry>();
    this.drift.set(id, table);
    const before = table.get(entry.column);
    table.set(entry.column, entry);
    if (before && before.action === entry.action && before.detail === entry.detail) return;
    const fields = { table: id, ...entry };
    if (entry.action === "added" || entry.action === "widened" || entry.action === "relaxed")
      this.log.info(fields, "followed production's schema change");
    else if (entry.action === "kept")
      this.log.warn(fields, "event column has no target column, or production dropped one; kept as it is");
    else this.log.warn(fields, "production's schema differs from the shadow's; not followed");
    this.schema.onDecision?.(id, entry);
  }

  /**
   * Moves the shadow's sequences / AUTO_INCREMENT clear of production's ids where they came
   * close (production keeps inserting), and warns where even that cannot restore the headroom.
   */
  async checkIds(only?: QualifiedName): Promise<void> {
    if (!this.overlay) return;
    const { idHeadroom } = this.overlay;
    for (const name of only ? [only] : this.installed.values()) {
      const id = `${name.schema}.${name.name}`;
      const columns = await this.target.ensureIdHeadroom(overlayNames(name), idHeadroom);
      this.idHeadroom.set(id, columns);
      for (const c of columns) {
        if (c.moved) this.log.info({ table: id, ...c }, "moved the shadow's ids above production's");
        if (BigInt(c.remaining) < idHeadroom / 2n)
          this.log.warn({ table: id, ...c }, "id headroom is low: the shadow's ids may meet production's");
      }
    }
  }

  /** After a schema error the cached shape may be stale: look the table up again next time. */
  forget(): void {
    this.shapes.clear();
    // The table may have changed: each event schema is compared with it again.
    this.planned.clear();
    // The shadow's migration may have changed the table: the overlay's copy follows on reinstall.
    this.overlaid.clear();
  }
}
