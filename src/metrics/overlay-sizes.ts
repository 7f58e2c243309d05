/**
 * Overlay sizes for /metrics, read at scrape time on the admin session. Counting owned keys is a
 * query per table, so a scrape reuses figures younger than `maxAgeMs` instead of asking again.
 */
import { overlaidTables } from "../overlay/admin.ts";
import { overlayNames } from "../overlay/names.ts";
import type { Inspection, OverlayRegistry } from "../target/dialect.ts";
import type { Metrics } from "./metrics.ts";

export function collectOverlaySizes(
  metrics: Metrics,
  target: OverlayRegistry & Inspection,
  maxAgeMs = 10_000,
): () => Promise<void> {
  let readAt = 0;
  return async () => {
    if (Date.now() - readAt < maxAgeMs) return;
    readAt = Date.now();
    const tables = await overlaidTables(target, undefined);
    metrics.ownedRows.reset();
    metrics.hiddenRows.reset();
    for (const table of tables) {
      const { owned, hidden } = await target.overlaySizes(overlayNames(table));
      const label = { table: `${table.schema}.${table.name}` };
      metrics.ownedRows.set(label, owned);
      metrics.hiddenRows.set(label, hidden);
    }
  };
}
