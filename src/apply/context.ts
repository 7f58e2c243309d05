/** What applying needs: the target, its tables, the mapping, the positions, and where letters are told. */
import type { TableMapping } from "../config/index.ts";
import { type ErrorCode, ShadowdbError } from "../errors.ts";
import type { ClassifiedError, PositionReader, Transactions } from "../target/dialect.ts";
import type { TargetTables } from "../target/tables.ts";
import type { SetAside } from "./letters.ts";
import type { Positions } from "./positions.ts";

export interface ApplyContext {
  target: Transactions & PositionReader;
  classify: (error: unknown) => ClassifiedError;
  tables: TargetTables;
  groupId: string;
  /** The table a topic maps to; undefined for topics without rows (transaction metadata). */
  mappingFor: (topic: string) => TableMapping | undefined;
  onError: "dlq" | "stop";
  /** Changes to keys the shadow owns go to the production copy (the overlay is installed). */
  overlay: boolean;
  /** Where each partition is; each commit moves its partitions' stored positions (commits may be partial). */
  positions: Positions;
  /**
   * Called right after each commit that set records aside, and only then: the record-by-record
   * fallback commits letters one at a time, and a batch interrupted after some of them (a lost
   * connection, a rebalance) never returns its result; its retry starts past them.
   */
  onDeadLetters: (setAside: SetAside[]) => void;
}

/** A target failure, classified: the runner retries `retriable` ones and sets the others aside. */
export class ApplyError extends ShadowdbError {
  constructor(code: ErrorCode, message: string, cause: unknown) {
    super(code, message, { cause });
    this.name = "ApplyError";
  }
}

export function classified(ctx: ApplyContext, error: unknown): ShadowdbError {
  if (error instanceof ShadowdbError) return error;
  const { code } = ctx.classify(error);
  const native = (error as { code?: unknown; errno?: unknown }).code ?? (error as { errno?: unknown }).errno;
  const message = error instanceof Error ? error.message : String(error);
  // The database's own code (SQLSTATE / errno) tells the operator more than our class alone.
  return new ApplyError(code, native === undefined ? message : `${message} (${String(native)})`, error);
}
