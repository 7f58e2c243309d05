/**
 * PostgreSQL without a server: PGlite (PostgreSQL compiled to WebAssembly, in this process) behind
 * pglite-socket, which speaks the wire protocol on a local port so that psql, the shadow service's
 * driver and shadowdb's own sessions connect as to any PostgreSQL.
 *
 * PGlite has one backend: the socket server queues every client's messages onto it and keeps an
 * open transaction's client alone until it ends. Session settings are therefore shared by all
 * clients, and a client that leaves a transaction open holds everybody else up.
 */
import { PGlite } from "@electric-sql/pglite";
import { PGLiteSocketServer } from "@electric-sql/pglite-socket";

export interface EmbeddedPostgresOptions {
  host: string;
  /** 0 picks a free port; `EmbeddedPostgres.port` tells which. */
  port: number;
  /** Where the database persists between runs; in memory when absent. */
  dataDir?: string;
}

export interface EmbeddedPostgres {
  port: number;
  /** For any PostgreSQL client: PGlite has the one database and trusts everyone. */
  url: string;
  /** Closes the clients' connections, then the database. */
  stop(): Promise<void>;
}

/** The demo's own two sessions (apply, admin), the user's psql and the shadow service's pool. */
const maxConnections = 32;

export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<EmbeddedPostgres> {
  const db = await PGlite.create(options.dataDir);
  const server = new PGLiteSocketServer({ db, host: options.host, port: options.port, maxConnections });
  try {
    await server.start();
  } catch (error) {
    await db.close();
    throw error;
  }
  // After start() the server knows the port it was given, also when asked for 0.
  const port = Number(server.getServerConn().split(":").at(-1));
  return {
    port,
    url: `postgres://postgres@${options.host}:${port}/postgres`,
    async stop() {
      await server.stop();
      await db.close();
    },
  };
}
