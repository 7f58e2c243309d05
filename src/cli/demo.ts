/**
 * `shadowdb demo`: the real pipeline with no servers to set up. An embedded PostgreSQL (PGlite on
 * a local port) is the shadow database; a recorded Debezium stream stands in for Kafka; the
 * overlay is on and the HTTP endpoints are up. Runs until SIGINT/SIGTERM, then stops in reverse
 * order of start: the replay, HTTP, the admin session, the database.
 */
import { parseArgs } from "node:util";
import { demoAdminToken, demoConfig } from "../demo/config.ts";
import { type EmbeddedPostgres, startEmbeddedPostgres } from "../demo/embedded.ts";
import { addressLines, printout } from "../demo/printout.ts";
import { Replay } from "../demo/replay.ts";
import { demoRoutes } from "../demo/routes.ts";
import { readDemoStream } from "../demo/stream.ts";
import { ShadowdbError } from "../errors.ts";
import { type HttpServer, startHttpServer } from "../http/server.ts";
import { createLogger } from "../log.ts";
import type { TargetSession } from "../target/dialect.ts";
import { loadDialect } from "../target/load.ts";

const usage = "usage: shadowdb demo [--db-port N] [--http-port N] [--pace MS] [--data DIR]";
const host = "127.0.0.1";
const stopGraceMs = 5000;

interface DemoOptions {
  dbPort: number;
  httpPort: number;
  paceMs: number;
  dataDir?: string;
}

function integer(name: string, text: string | undefined, fallback: number, max: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!/^\d+$/.test(text) || value > max)
    throw new ShadowdbError(
      "USAGE_INVALID",
      `--${name} ${text}: expected an integer from 0 to ${max}\n${usage}`,
    );
  return value;
}

function demoOptions(argv: string[]): DemoOptions {
  let values: Record<string, string | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        "db-port": { type: "string" },
        "http-port": { type: "string" },
        pace: { type: "string" },
        data: { type: "string" },
      },
    }));
  } catch (error) {
    throw new ShadowdbError("USAGE_INVALID", `${(error as Error).message}\n${usage}`);
  }
  return {
    // Next to, not on, the usual 5432: a local PostgreSQL may hold it.
    dbPort: integer("db-port", values["db-port"], 5433, 65535),
    httpPort: integer("http-port", values["http-port"], 8080, 65535),
    paceMs: integer("pace", values.pace, 3000, 3_600_000),
    dataDir: values.data,
  };
}

/** A port someone else holds is the user's to change: said as a usage error, without a stack. */
async function listening<T>(flag: string, port: number, start: () => Promise<T>): Promise<T> {
  try {
    return await start();
  } catch (error) {
    // The errno is the error's own (the embedded database) or its cause's (HTTP_LISTEN).
    const code = [error, (error as { cause?: unknown }).cause]
      .map((e) => (e as { code?: unknown } | undefined)?.code)
      .find((c) => c === "EADDRINUSE" || c === "EACCES");
    if (code === undefined) throw error;
    throw new ShadowdbError(
      "USAGE_INVALID",
      `${flag} ${port}: cannot listen on ${host}:${port} (${code}); choose another port, or 0 for a free one`,
      { cause: error },
    );
  }
}

export async function demoCommand(argv: string[]): Promise<number> {
  const options = demoOptions(argv);
  const stream = await readDemoStream();
  const adminToken = demoAdminToken();
  const stop = new AbortController();
  const onSignal = () => {
    stop.abort();
    // A wedged embedded database (COPY FROM STDIN, docs/demo.md) never lets its sessions close.
    setTimeout(() => {
      process.stderr.write(`shadowdb demo: not stopped after ${stopGraceMs / 1000} s; exiting anyway\n`);
      process.exit(0);
    }, stopGraceMs).unref();
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);

  let database: EmbeddedPostgres | undefined;
  let admin: TargetSession | undefined;
  let http: HttpServer | undefined;
  let replaying: Promise<void> | undefined;
  try {
    database = await listening("--db-port", options.dbPort, () =>
      startEmbeddedPostgres({ host, port: options.dbPort, dataDir: options.dataDir }),
    );
    const config = demoConfig({ databaseUrl: database.url, httpPort: options.httpPort, adminToken });
    const log = createLogger(config.log.level);
    const dialect = await loadDialect("postgres");
    const adminTarget = new dialect.Target(database.url);
    admin = adminTarget;
    const replay = new Replay({
      config,
      target: new dialect.Target(
        database.url,
        config.deadLetter.kind === "table" ? config.deadLetter.table : undefined,
      ),
      classify: dialect.classify,
      log,
      stream,
      paceMs: options.paceMs,
      onInitialRows: () => {
        const { transactions, totalTransactions } = replay.progress;
        process.stdout.write(
          printout({
            databaseUrl: database!.url,
            httpUrl: `http://${host}:${http!.port}`,
            adminToken,
            paceMs: options.paceMs,
            transactions: totalTransactions - transactions,
          }),
        );
      },
    });
    http = await listening("--http-port", options.httpPort, () =>
      startHttpServer({
        host,
        port: options.httpPort,
        adminToken,
        log,
        routes: demoRoutes(config, replay, adminTarget, log),
      }),
    );
    process.stdout.write(addressLines(database.url, `http://${host}:${http.port}`));
    replaying = replay.run(stop.signal);
    try {
      await replaying;
    } catch (error) {
      log.error({ err: error }, "the replay stopped on an error it cannot wait out");
      return 1;
    }
    return 0;
  } finally {
    stop.abort();
    await replaying?.catch(() => undefined);
    await http?.close();
    await admin?.close();
    await database?.stop();
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}
