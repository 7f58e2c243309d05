/**
 * Multi-row statements as prepared statements. mysql2 keeps every prepared statement in a
 * per-connection cache with the definitions of all its parameters (about 200 bytes each), and
 * preparing one costs a round trip plus a packet per parameter to parse: at wide rows that was a
 * tenth of the process's time. The row counts of `chunks` (apply.ts) come from a short ladder, so
 * the statements repeat and stay prepared: a table's upserts hold at most 2 × STATEMENT_PARAMETERS
 * definitions (about 6 MiB). A statement beyond the budget (none of ours) is closed right after it
 * runs.
 */
import type mysql from "mysql2/promise";
import type { MysqlParam } from "./types.ts";

/**
 * The parameters one cached multi-row statement carries at most. Wide rows' upserts wait on round
 * trips: 16384 (512 rows of 20 columns a statement, not 128) applied 1.03-1.11x as fast as 4096
 * in three A/B runs (200k wide changes, alternating); 65535 was no faster (1.09x against 1.11x).
 */
export const STATEMENT_PARAMETERS = 16384;

export async function executeRows(conn: mysql.Connection, sql: string, params: MysqlParam[]) {
  try {
    return await conn.execute(sql, params);
  } finally {
    if (params.length > STATEMENT_PARAMETERS) conn.unprepare(sql);
  }
}
