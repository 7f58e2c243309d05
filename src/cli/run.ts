/**
 * `shadowdb run --config F`: the materializer and, unless http.port is 0, the HTTP endpoints,
 * until SIGINT/SIGTERM. The endpoints' reset, diff and overlay figures run on a target session of
 * their own, never on the apply session. Stops in reverse order of start: HTTP, then the
 * materializer, which gets `shutdown.timeoutMs` to finish its batch before it is abandoned.
 */
import { parseArgs } from "node:util";
import { loadConfig } from "../config/index.ts";
import { ShadowdbError } from "../errors.ts";
import { type HttpServer, startHttpServer } from "../http/server.ts";
import { createLogger } from "../log.ts";
import { Metrics } from "../metrics/metrics.ts";
import { collectOverlaySizes } from "../metrics/overlay-sizes.ts";
import { diffOverlays, resetOverlays } from "../overlay/admin.ts";
import { createMaterializer } from "../run/create.ts";
import type { TargetSession } from "../target/dialect.ts";
import { loadDialect } from "../target/load.ts";

export async function runCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { config: { type: "string" } } });
  if (!values.config) {
    console.error("shadowdb run: --config FILE is required");
    return 2;
  }
  const config = await loadConfig(values.config);
  const log = createLogger(config.log.level);
  const metrics = new Metrics();
  const materializer = await createMaterializer(config, log, metrics);
  const { health } = materializer;
  const stop = new AbortController();
  let http: HttpServer | undefined;
  let admin: TargetSession | undefined;
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => {
      log.info({ signal, timeoutMs: config.shutdown.timeoutMs }, "stopping");
      // The transaction in flight rolls back when the process ends; its records are applied
      // again after restart, so abandoning it loses nothing.
      setTimeout(() => {
        log.warn(
          { timeoutMs: config.shutdown.timeoutMs },
          "the batch in flight did not finish in time: abandoned",
        );
        process.exit(0);
      }, config.shutdown.timeoutMs).unref();
      void Promise.resolve(http?.close()).finally(() => stop.abort());
    });
  }
  let failed = false;
  let running: Promise<void> | undefined;
  metrics.onCollect(() => {
    metrics.ready.set(health.readyReasons().length === 0 ? 1 : 0);
  });
  metrics.onCollect(() => {
    metrics.idHeadroom.reset();
    for (const [table, columns] of Object.entries(materializer.status().idHeadroom as object)) {
      for (const c of columns as { column: string; remaining: string }[])
        metrics.idHeadroom.set({ table, column: c.column }, Number(c.remaining));
    }
  });
  try {
    if (config.http.port !== 0) {
      const dialect = await loadDialect(config.target.dialect);
      const target = new dialect.Target(config.target.url);
      admin = target;
      if (config.overlay.enabled) metrics.onCollect(collectOverlaySizes(metrics, target));
      // Before the materializer runs: a port someone holds stops the start before anything
      // connects, with one line naming the key to change.
      http = await startHttpServer({
        host: config.http.host,
        port: config.http.port,
        adminToken: config.http.adminToken,
        log,
        routes: {
          health: () => health.healthReasons(),
          ready: () => health.readyReasons(),
          metrics: () => metrics.scrape((error) => log.warn({ err: error }, "a metrics collector failed")),
          status: async () => ({ ...materializer.status(), ready: health.readyReasons() }),
          diff: (table) => diffOverlays(config, target, table),
          reset: (table, key) => resetOverlays(config, target, table, key),
        },
      }).catch((error: unknown) => {
        throw portProblem(config.http.host, config.http.port, error);
      });
      log.info({ host: config.http.host, port: http.port }, "http listening");
    }
    running = materializer.run(stop.signal);
    running.catch(() => {
      failed = true;
    });
    await running;
  } catch (error) {
    stop.abort();
    await running?.catch(() => undefined);
    if (!failed) throw error;
    log.error(
      { err: error, ...materializer.stats },
      "the materializer stopped on an error it cannot wait out",
    );
    return 1;
  } finally {
    await http?.close();
    await admin?.close();
  }
  log.info(materializer.stats, "stopped");
  return 0;
}

/** A listen failure worded for the config: the key and address, and the errno when it has one. */
function portProblem(host: string, port: number, error: unknown): unknown {
  const errno = (error as { cause?: { code?: unknown } }).cause?.code;
  if (!(error instanceof ShadowdbError) || typeof errno !== "string") return error;
  const why =
    errno === "EADDRINUSE" ? "is in use" : errno === "EACCES" ? "needs privileges" : "cannot be bound";
  return new ShadowdbError("HTTP_LISTEN", `http.port ${port} on ${host} ${why} (${errno})`, { cause: error });
}
