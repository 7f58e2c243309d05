/**
 * Multi-row statements, bound as prepared statements and closed right after. mysql2 keeps every
 * prepared statement in a per-connection cache (up to 16,000) with the definitions of all its
 * parameters: a 5000-row upsert holds about 4 MiB of heap, and a batch's row count after
 * coalescing rarely repeats, so the cache only grew (10 such statements: 38 MiB; bench:apply's
 * process heap doubled while draining). Statements with few parameters stay cached: they repeat.
 */
import type mysql from "mysql2/promise";
import type { MysqlParam } from "./types.ts";

/** Statements with more parameters than this are not kept prepared. */
const CACHED_PARAMETERS = 256;

export async function executeRows(conn: mysql.Connection, sql: string, params: MysqlParam[]) {
  try {
    return await conn.execute(sql, params);
  } finally {
    if (params.length > CACHED_PARAMETERS) conn.unprepare(sql);
  }
}
