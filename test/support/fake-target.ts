/**
 * A recording fake of the target roles the unit tests exercise (src/target/roles.ts): ApplyTarget
 * (the materializer, apply, tables.ts, the dead-letter relay) and OverlayRegistry (resync, which
 * finds no overlay here). It keeps tables in memory with the dialects' write semantics (truncate,
 * then deletes, then upserts that keep columns a row leaves out), commits a transaction's effects
 * only when its work resolves, and records every transaction with its operations and outcome. Failures
 * are injected per operation and look like driver errors (a message and a native code), which
 * `fakeClassify` sorts the way the dialects' classifiers do.
 */
import type { Column } from "../../src/decode/index.ts";
import type { Row } from "../../src/decode/values.ts";
import { errorCodes } from "../../src/errors.ts";
import type {
  ApplyTarget,
  ClassifiedError,
  ColumnChange,
  DeadLetter,
  IdHeadroom,
  KnownColumn,
  OverlayNames,
  OverlayRegistry,
  Position,
  QualifiedName,
  StoredDeadLetter,
  TableShape,
  TableWrite,
  TargetTransaction,
} from "../../src/target/dialect.ts";

export type Operation =
  | { op: "write"; write: TableWrite }
  | { op: "savePositions"; groupId: string; positions: Position[] }
  | { op: "saveDeadLetters"; groupId: string; letters: DeadLetter[] };

export interface RecordedTransaction {
  operations: Operation[];
  outcome: "committed" | "rolled back";
  error?: unknown;
}

/** An error as a driver throws it: SQLSTATE in `code`, or no code for a dropped connection. */
export function dbError(message: string, code?: string): Error {
  return code === undefined ? new Error(message) : Object.assign(new Error(message), { code });
}

/** The fake's classifier: by the native code, with `retriable` as the catalogue says. */
export function fakeClassify(error: unknown): ClassifiedError {
  const native = (error as { code?: unknown } | null)?.code;
  const code =
    native === undefined
      ? "TARGET_CONNECTION"
      : native === "23505"
        ? "TARGET_CONSTRAINT"
        : native === "22P02"
          ? "TARGET_DATA"
          : native === "42703" || native === "42P01"
            ? "TARGET_SCHEMA"
            : native === "40P01"
              ? "TARGET_DEADLOCK"
              : "TARGET_OTHER";
  return { code, retriable: errorCodes[code].retriable };
}

const tableId = (name: QualifiedName) => `${name.schema}.${name.name}`;

interface State {
  shapes: Map<string, TableShape>;
  rows: Map<string, Map<string, Row>>;
  positions: Map<string, Map<string, Position>>;
  deadLetters: { id: string; groupId: string; letter: DeadLetter }[];
}

function copy(state: State): State {
  return {
    shapes: new Map(state.shapes),
    rows: new Map([...state.rows].map(([t, rows]) => [t, new Map(rows)])),
    positions: new Map([...state.positions].map(([g, p]) => [g, new Map(p)])),
    deadLetters: [...state.deadLetters],
  };
}

export class FakeTarget implements ApplyTarget, OverlayRegistry {
  readonly dialect = "postgres" as const;
  private state: State = { shapes: new Map(), rows: new Map(), positions: new Map(), deadLetters: [] };
  readonly transactions: RecordedTransaction[] = [];
  /** describe / createTable / addColumns, in order, with the table's name. */
  readonly schemaCalls: string[] = [];
  private letterIds = 0;
  /** Return an error to make that operation throw it (the transaction then rolls back). */
  failOn: (operation: Operation) => unknown = () => undefined;
  /** Return an error to make alterColumns throw it. */
  failAlter: (changes: ColumnChange[]) => unknown = () => undefined;
  /** The most key + value bytes a letter may carry, as a server's packet limit would have it. */
  letterLimit: number | undefined;

  letterTooLarge(_groupId: string, letter: DeadLetter): string | undefined {
    const bytes = (letter.key?.length ?? 0) + (letter.value?.length ?? 0);
    return this.letterLimit !== undefined && bytes > this.letterLimit
      ? `${bytes} bytes, the limit is ${this.letterLimit}`
      : undefined;
  }

  /** A table as if created by a migration (not through shadowdb). */
  defineTable(name: QualifiedName, columns: Record<string, string>, primaryKey: string[]): void {
    this.state.shapes.set(tableId(name), {
      name,
      columns: new Map(
        Object.entries(columns).map(([n, sqlType]) => [
          n,
          { name: n, sqlType, nullable: !primaryKey.includes(n) },
        ]),
      ),
      primaryKey,
    });
    if (!this.state.rows.has(tableId(name))) this.state.rows.set(tableId(name), new Map());
  }

  /** ALTER TABLE … DROP COLUMN, as the shadow's own migration would. */
  dropColumn(name: QualifiedName, column: string): void {
    const shape = this.state.shapes.get(tableId(name))!;
    const columns = new Map(shape.columns);
    columns.delete(column);
    this.state.shapes.set(tableId(name), { ...shape, columns });
    const rows = this.state.rows.get(tableId(name))!;
    for (const [k, row] of rows) {
      const { [column]: _, ...rest } = row;
      rows.set(k, rest);
    }
  }

  /** The committed rows of a table, ordered by key. */
  rows(name: QualifiedName): Row[] {
    return [...(this.state.rows.get(tableId(name)) ?? new Map<string, Row>()).entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([, row]) => row);
  }

  /** Committed positions of a group. */
  positionsOf(groupId: string): Position[] {
    return [...(this.state.positions.get(groupId)?.values() ?? [])];
  }

  /** Committed dead letters, in commit order. */
  deadLetters(): DeadLetter[] {
    return this.state.deadLetters.map((d) => d.letter);
  }

  committed(): RecordedTransaction[] {
    return this.transactions.filter((t) => t.outcome === "committed");
  }

  async prepare(): Promise<void> {}

  async describe(name: QualifiedName): Promise<TableShape | undefined> {
    this.schemaCalls.push(`describe ${tableId(name)}`);
    const shape = this.state.shapes.get(tableId(name));
    return shape && { ...shape, columns: new Map(shape.columns), primaryKey: [...shape.primaryKey] };
  }

  async createTable(name: QualifiedName, columns: Column[], primaryKey: string[]): Promise<void> {
    this.schemaCalls.push(
      `createTable ${tableId(name)} (${columns.map((c) => c.name).join(", ")}) key (${primaryKey.join(", ")})`,
    );
    this.defineTable(name, Object.fromEntries(columns.map((c) => [c.name, c.type.kind])), primaryKey);
  }

  async addColumns(name: QualifiedName, columns: Column[]): Promise<void> {
    this.schemaCalls.push(`addColumns ${tableId(name)} (${columns.map((c) => c.name).join(", ")})`);
    const shape = this.state.shapes.get(tableId(name))!;
    const all = new Map(shape.columns);
    for (const c of columns) all.set(c.name, { name: c.name, sqlType: c.type.kind, nullable: true });
    this.state.shapes.set(tableId(name), { ...shape, columns: all });
  }

  /** Production's columns as recorded (shadowdb_columns), per table. */
  readonly known = new Map<string, Map<string, string>>();

  async knownColumns(name: QualifiedName): Promise<Map<string, string> | undefined> {
    const known = this.known.get(tableId(name));
    return known && new Map(known);
  }

  async recordColumns(name: QualifiedName, columns: KnownColumn[]): Promise<void> {
    const known = this.known.get(tableId(name)) ?? new Map<string, string>();
    for (const c of columns) known.set(c.name, c.type);
    this.known.set(tableId(name), known);
  }

  async alterColumns(name: QualifiedName, changes: ColumnChange[]): Promise<void> {
    const text = changes.map((c) =>
      c.op === "add"
        ? `add ${c.column.name} ${c.sqlType}`
        : c.op === "widen"
          ? `widen ${c.column} ${c.sqlType}`
          : `relax ${c.column}`,
    );
    this.schemaCalls.push(`alterColumns ${tableId(name)} (${text.join(", ")})`);
    const failure = this.failAlter(changes);
    if (failure) throw failure;
    const shape = this.state.shapes.get(tableId(name))!;
    const all = new Map(shape.columns);
    for (const c of changes) {
      if (c.op === "add")
        all.set(c.column.name, {
          name: c.column.name,
          sqlType: c.sqlType,
          nullable: c.column.type.optional || c.column.type.default === undefined,
          hasDefault: c.column.type.default !== undefined,
        });
      else if (c.op === "widen") all.set(c.column, { ...all.get(c.column)!, sqlType: c.sqlType });
      else all.set(c.column, { ...all.get(c.column)!, nullable: true });
    }
    this.state.shapes.set(tableId(name), { ...shape, columns: all });
  }

  async installOverlay(names: OverlayNames): Promise<void> {
    this.schemaCalls.push(`installOverlay ${tableId(names.table)}`);
  }

  async ensureIdHeadroom(names: OverlayNames): Promise<IdHeadroom[]> {
    this.schemaCalls.push(`ensureIdHeadroom ${tableId(names.table)}`);
    return [];
  }

  async listOverlays(): Promise<QualifiedName[]> {
    return [];
  }

  /** Stored dead letters of a group, as Inspection's countDeadLetters counts them (for assertions). */
  async countDeadLetters(groupId: string): Promise<number> {
    return this.state.deadLetters.filter((d) => d.groupId === groupId).length;
  }

  async readPositions(groupId: string): Promise<Position[]> {
    return this.positionsOf(groupId);
  }

  async storedDeadLetters(groupId: string, limit: number): Promise<StoredDeadLetter[]> {
    return this.state.deadLetters
      .filter((d) => d.groupId === groupId)
      .slice(0, limit)
      .map((d) => ({ ...d.letter, id: d.id }));
  }

  async removeDeadLetters(ids: string[]): Promise<void> {
    const gone = new Set(ids);
    this.state.deadLetters = this.state.deadLetters.filter((d) => !gone.has(d.id));
  }

  async transaction<T>(work: (tx: TargetTransaction) => Promise<T>): Promise<T> {
    const recorded: RecordedTransaction = { operations: [], outcome: "rolled back" };
    this.transactions.push(recorded);
    let staged = copy(this.state);
    const run = (operation: Operation, effect: () => void) => {
      recorded.operations.push(operation);
      const failure = this.failOn(operation);
      if (failure !== undefined) throw failure;
      effect();
    };
    const tx: TargetTransaction = {
      // A read under lock in a real database: not an operation the tests account for.
      lockPosition: async (groupId, topic, partition) =>
        staged.positions.get(groupId)?.get(`${topic}\u0000${partition}`)?.offset,
      // Overlay routing is the dialects' (tested on the real databases); the fake records the names.
      write: async (write) => {
        await run({ op: "write", write }, () => applyWrite(staged, write));
        return { toCopy: 0, lostInserts: 0, hidden: 0 };
      },
      savePositions: async (groupId, positions) =>
        run({ op: "savePositions", groupId, positions }, () => {
          const group = staged.positions.get(groupId) ?? new Map<string, Position>();
          for (const p of positions) group.set(`${p.topic}\u0000${p.partition}`, p);
          staged.positions.set(groupId, group);
        }),
      saveDeadLetters: async (groupId, letters) =>
        run({ op: "saveDeadLetters", groupId, letters }, () => {
          // As PostgreSQL's text columns do: a NUL is refused, for good.
          if (letters.some((l) => `${l.topic}${l.code}${l.message}`.includes("\u0000")))
            throw dbError('invalid byte sequence for encoding "UTF8": 0x00', "22021");
          // As MariaDB past max_allowed_packet: the server closes the connection.
          if (letters.some((l) => this.letterTooLarge(groupId, l) !== undefined))
            throw dbError("Connection lost: The server closed the connection.");
          for (const letter of letters)
            staged.deadLetters.push({ id: String(++this.letterIds), groupId, letter });
        }),
      savepoint: async (work) => {
        const saved = copy(staged);
        try {
          return await work();
        } catch (error) {
          staged = saved;
          throw error;
        }
      },
    };
    try {
      const result = await work(tx);
      this.state = staged;
      recorded.outcome = "committed";
      return result;
    } catch (error) {
      recorded.error = error;
      throw error;
    }
  }

  async close(): Promise<void> {}
}

/** The dialects' semantics: truncate, then deletes, then upserts that keep columns a row leaves out. */
function applyWrite(state: State, write: TableWrite): void {
  const id = tableId(write.table.name);
  const shape = state.shapes.get(id);
  if (!shape) throw dbError(`relation "${id}" does not exist`, "42P01");
  const key = shape.primaryKey;
  const keyText = (row: Row) => JSON.stringify(key.map((k) => String(row[k])));
  for (const row of [...write.upserts, ...write.deletes]) {
    for (const column of Object.keys(row)) {
      if (!shape.columns.has(column)) throw dbError(`column "${column}" of "${id}" does not exist`, "42703");
    }
  }
  const rows = write.truncate ? new Map<string, Row>() : new Map(state.rows.get(id));
  for (const k of write.deletes) rows.delete(keyText(k));
  for (const row of write.upserts) rows.set(keyText(row), { ...rows.get(keyText(row)), ...row });
  state.rows.set(id, rows);
}
