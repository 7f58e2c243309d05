/**
 * Target tables as the apply step needs them: looked up once, created from the event schema when
 * missing. A column the events start to carry later (the source table grew) is added; a column the
 * target lacks from the start is skipped and reported, never restored: the shadow may run a newer
 * migration that dropped or renamed it. Nothing is ever dropped.
 */
import type { TableMapping } from "../config/index.ts";
import type { Column } from "../decode/index.ts";
import type { Logger } from "../log.ts";
import type { QualifiedName, TableShape, Target } from "../target/dialect.ts";

const identifier = /^[A-Za-z_][A-Za-z0-9_$]{0,62}$/;

export class TargetTables {
  private readonly shapes = new Map<string, TableShape>();
  /** The event columns seen when each table was first resolved. */
  private readonly firstSeen = new Map<string, Set<string>>();
  /** Event columns the target lacks and shadowdb does not add, per table, reported once each. */
  readonly skipped = new Map<string, Set<string>>();

  constructor(
    private readonly target: Target,
    private readonly log: Logger,
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
    this.shapes.set(id, shape);
    return shape;
  }

  /** After a schema error the cached shape may be stale: look the table up again next time. */
  forget(): void {
    this.shapes.clear();
  }
}
