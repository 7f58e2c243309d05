/**
 * Multi-row statements as prepared statements. mysql2 keeps every prepared statement in a
 * per-connection cache with the definitions of all its parameters (about 200 bytes each), and
 * preparing one costs a round trip plus a packet per parameter to parse: at wide rows that was a
 * tenth of the process's time. The row counts of `chunks` (apply.ts) come from a short ladder, so
 * the statements repeat and stay prepared: a table's upserts hold at most 2 × STATEMENT_PARAMETERS
 * definitions. A statement beyond the budget (none of ours) is closed right after it runs.
 */
import type mysql from "mysql2/promise";
import type { MysqlParam } from "./types.ts";

/** The parameters one cached multi-row statement carries at most. */
export const STATEMENT_PARAMETERS = 4096;

export async function executeRows(conn: mysql.Connection, sql: string, params: MysqlParam[]) {
  try {
    return await conn.execute(sql, params);
  } finally {
    if (params.length > STATEMENT_PARAMETERS) conn.unprepare(sql);
  }
}
