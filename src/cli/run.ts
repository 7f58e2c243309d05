/**
 * `shadowdb run --config F`: the materializer and, unless http.port is 0, the HTTP endpoints,
 * until SIGINT/SIGTERM. The endpoints' reset and diff run on a target session of their own, never
 * on the apply session. Stops in reverse order of start: HTTP, then the materializer.
 */
import { parseArgs } from "node:util";
import { loadConfig } from "../config/index.ts";
import { type HttpServer, startHttpServer } from "../http/server.ts";
import { createLogger } from "../log.ts";
import { diffOverlays, resetOverlays } from "../overlay/admin.ts";
import { createMaterializer } from "../run/create.ts";
import type { Target } from "../target/dialect.ts";
import { loadDialect } from "../target/load.ts";

export async function runCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { config: { type: "string" } } });
  if (!values.config) {
    console.error("shadowdb run: --config FILE is required");
    return 2;
  }
  const config = await loadConfig(values.config);
  const log = createLogger(config.log.level);
  const materializer = await createMaterializer(config, log);
  const stop = new AbortController();
  let http: HttpServer | undefined;
  let admin: Target | undefined;
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => {
      log.info({ signal }, "stopping");
      void Promise.resolve(http?.close()).finally(() => stop.abort());
    });
  }
  let failure: unknown;
  const running = materializer.run(stop.signal);
  running.catch((error: unknown) => {
    failure = error;
  });
  try {
    if (config.http.port !== 0) {
      const dialect = await loadDialect(config.target.dialect);
      const target = new dialect.Target(config.target.url);
      admin = target;
      http = await startHttpServer({
        host: config.http.host,
        port: config.http.port,
        adminToken: config.http.adminToken,
        log,
        routes: {
          health: () =>
            failure === undefined
              ? []
              : [`the materializer stopped: ${(failure as { code?: string }).code ?? String(failure)}`],
          status: async () => materializer.status(),
          diff: (table) => diffOverlays(config, target, table),
          reset: (table, key) => resetOverlays(target, table, key),
        },
      });
      log.info({ host: config.http.host, port: http.port }, "http listening");
    }
    await running;
  } catch (error) {
    // The materializer must not be left running when the HTTP server cannot start.
    stop.abort();
    await running.catch(() => undefined);
    throw error;
  } finally {
    await http?.close();
    await admin?.close();
  }
  log.info(materializer.stats, "stopped");
  return 0;
}
