/**
 * Target tables as the apply step needs them: looked up once, created from the event schema when
 * missing. A column the events start to carry later (the source table grew) is added; a column the
 * target lacks from the start is skipped and reported, never restored: the shadow may run a newer
 * migration that dropped or renamed it. Nothing is ever dropped.
 */
import type { TableMapping } from "../config/index.ts";
import type { Column } from "../decode/index.ts";
import type { Logger } from "../log.ts";
import { overlayNames } from "../overlay/names.ts";
import type { IdHeadroom, QualifiedName, TableShape, Target } from "../target/dialect.ts";

const identifier = /^[A-Za-z_][A-Za-z0-9_$]{0,62}$/;

export class TargetTables {
  private readonly shapes = new Map<string, TableShape>();
  /** The event columns seen when each table was first resolved. */
  private readonly firstSeen = new Map<string, Set<string>>();
  /** Event columns the target lacks and shadowdb does not add, per table, reported once each. */
  readonly skipped = new Map<string, Set<string>>();
  /** Tables whose overlay is installed for their current columns. */
  private readonly overlaid = new Set<string>();
  /** Every table whose overlay this process installed, for the periodic id check. */
  private readonly installed = new Map<string, QualifiedName>();
  /** The last id headroom seen per table and column (for status and metrics). */
  readonly idHeadroom = new Map<string, IdHeadroom[]>();

  constructor(
    private readonly target: Target,
    private readonly log: Logger,
    /**
     * Install each table's overlay before its first write (and again when it gains columns), and
     * keep the shadow's own ids `idHeadroom` above production's.
     */
    private readonly overlay?: { idHeadroom: bigint },
  ) {}

  async shapeFor(mapping: TableMapping, columns: Column[], key: string[]): Promise<TableShape> {
    const name: QualifiedName = mapping.table;
    const id = `${name.schema}.${name.name}`;
    let shape = this.shapes.get(id) ?? (await this.target.describe(name));
    if (!shape) {
      const creatable = columns.filter((c) => identifier.test(c.name));
      this.log.info(
        { table: id, columns: creatable.length },
        "creating the target table from the event schema",
      );
      await this.target.createTable(name, creatable, key);
      shape = (await this.target.describe(name))!;
    }
    const first = this.firstSeen.get(id) ?? new Set(columns.map((c) => c.name));
    this.firstSeen.set(id, first);
    const grown = columns.filter((c) => !shape!.columns.has(c.name) && !first.has(c.name));
    if (grown.length > 0) {
      const addable = grown.filter((c) => identifier.test(c.name));
      if (addable.length > 0) {
        this.log.info({ table: id, columns: addable.map((c) => c.name) }, "adding columns the events carry");
        await this.target.addColumns(name, addable);
        shape = (await this.target.describe(name))!;
        this.overlaid.delete(id);
      }
    }
    for (const c of columns) {
      if (shape.columns.has(c.name)) continue;
      const seen = this.skipped.get(id) ?? new Set();
      if (!seen.has(c.name))
        this.log.warn({ table: id, column: c.name }, "event column has no target column; skipped");
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
    // The shadow's migration may have changed the table: the overlay's copy follows on reinstall.
    this.overlaid.clear();
  }
}
