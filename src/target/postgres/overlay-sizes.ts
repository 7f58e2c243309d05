/**
 * How many keys a table's overlay holds, for `shadowdb status` and the metrics: one count over the
 * ownership table, which is small (the shadow's writes), so a scan is cheap and exact.
 */
import type pg from "pg";
import type { OverlayNames, OverlaySize } from "../dialect.ts";
import { qualified } from "./sql.ts";

export async function overlaySizesPostgres(client: pg.ClientBase, names: OverlayNames): Promise<OverlaySize> {
  const { rows } = await client.query<{ owned: string; hidden: string }>(
    `SELECT count(*)::text AS owned, count(*) FILTER (WHERE how = 'c')::text AS hidden
       FROM ${qualified(names.owned)}`,
  );
  return { owned: Number(rows[0]!.owned), hidden: Number(rows[0]!.hidden) };
}
