/**
 * How many keys a table's overlay holds, for `shadowdb status` and the metrics: one count over the
 * ownership table, which is small (the shadow's writes), so a scan is cheap and exact.
 */
import type mysql from "mysql2/promise";
import type { OverlayNames, OverlaySize } from "../dialect.ts";
import { qualified } from "./sql.ts";

export async function overlaySizesMysql(conn: mysql.Connection, names: OverlayNames): Promise<OverlaySize> {
  const [rows] = await conn.query(
    `SELECT CAST(COUNT(*) AS CHAR) AS owned, CAST(COALESCE(SUM(how = 'c'), 0) AS CHAR) AS hidden
       FROM ${qualified(names.owned)}`,
  );
  const [row] = rows as { owned: string; hidden: string }[];
  return { owned: Number(row!.owned), hidden: Number(row!.hidden) };
}
