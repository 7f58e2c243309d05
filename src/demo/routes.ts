/**
 * The demo's HTTP work, shaped as `shadowdb run` shapes it: health and readiness from the replay,
 * diff and reset on the admin session (never the apply session), metrics with the overlay sizes.
 */
import type { Config } from "../config/index.ts";
import type { HttpRoutes } from "../http/server.ts";
import type { Logger } from "../log.ts";
import { Metrics } from "../metrics/metrics.ts";
import { collectOverlaySizes } from "../metrics/overlay-sizes.ts";
import { diffOverlays, resetOverlays } from "../overlay/admin.ts";
import type { Inspection, OverlayAdmin } from "../target/dialect.ts";
import type { Replay } from "./replay.ts";

export function demoRoutes(
  config: Config,
  replay: Replay,
  admin: OverlayAdmin & Inspection,
  log: Logger,
): HttpRoutes {
  const metrics = new Metrics();
  metrics.onCollect(() => metrics.ready.set(replay.readyReasons().length === 0 ? 1 : 0));
  metrics.onCollect(collectOverlaySizes(metrics, admin));
  return {
    health: () => replay.healthReasons(),
    ready: () => replay.readyReasons(),
    metrics: () => metrics.scrape((error) => log.warn({ err: error }, "a metrics collector failed")),
    status: async () => ({ ...replay.status(), ready: replay.readyReasons() }),
    diff: (table) => diffOverlays(config, admin, table),
    reset: (table, key) => resetOverlays(config, admin, table, key),
  };
}
