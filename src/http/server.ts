/**
 * shadowdb's HTTP server (node:http, no framework): the admin endpoints over the overlay, with
 * room for the public ones (/healthz, /readyz, /metrics, /status). The work is injected, so this
 * layer imports no database driver and no materializer.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { ShadowdbError } from "../errors.ts";
import type { Logger } from "../log.ts";
import { type AdminWork, adminRoutes } from "./admin.ts";
import { bearerCheck } from "./auth.ts";
import { readJson } from "./body.ts";
import { type PublicWork, publicRoutes } from "./public.ts";
import { errorReply, findRoute, HttpError, type Reply, type Route } from "./router.ts";

/** The work behind the endpoints. */
export type HttpRoutes = AdminWork & PublicWork;

export interface HttpServerOptions {
  host: string;
  /** 0 picks a free port (tests); `HttpServer.port` tells which. */
  port: number;
  /** The admin endpoints' bearer token; without one they answer 403 to everyone. */
  adminToken?: string;
  log: Logger;
  routes: HttpRoutes;
  /** How long close() lets requests under way finish before cutting their connections. */
  closeGraceMs?: number;
}

export interface HttpServer {
  port: number;
  /** Stops listening, ends idle keep-alive connections at once and busy ones after their reply. */
  close(): Promise<void>;
}

export function routeTable(routes: HttpRoutes): Route[] {
  return [...publicRoutes(routes), ...adminRoutes(routes)];
}

const commonHeaders = { "cache-control": "no-store", "x-content-type-options": "nosniff" };

/** The request target as a URL; only origin-form (`/path?query`) is served. */
function requestUrl(target: string | undefined): URL {
  const bad = new HttpError(400, "USAGE_INVALID", "the request target must be a path");
  if (target === undefined || !target.startsWith("/")) throw bad;
  try {
    // Concatenated, not resolved: "//diff" must stay a path, not become a host.
    return new URL(`http://localhost${target}`);
  } catch {
    throw bad;
  }
}

export async function startHttpServer(options: HttpServerOptions): Promise<HttpServer> {
  const log = options.log.child({ component: "http" });
  const routes = routeTable(options.routes);
  const checkAdmin = bearerCheck(options.adminToken);
  const graceMs = options.closeGraceMs ?? 3000;
  let closing = false;

  const send = (response: ServerResponse, reply: Reply, keepAlive: boolean) => {
    if (response.headersSent || response.destroyed) return;
    const headers: Record<string, string> = { ...commonHeaders, ...reply.headers };
    if (!keepAlive || closing) headers.connection = "close";
    headers["content-length"] = String(Buffer.byteLength(reply.body));
    response.writeHead(reply.status, headers);
    response.end(reply.body);
  };

  const handle = async (request: IncomingMessage, response: ServerResponse) => {
    const started = performance.now();
    const method = request.method ?? "";
    let path = request.url ?? "";
    let access: Route["access"] | undefined;
    let reply: Reply;
    try {
      const url = requestUrl(request.url);
      path = url.pathname;
      const route = findRoute(routes, method, url.pathname);
      access = route.access;
      if (route.access === "admin") checkAdmin(request.headers.authorization);
      let body: Promise<unknown> | undefined;
      reply = await route.handle({
        method,
        url,
        headers: request.headers,
        body: () => {
          body ??= readJson(request);
          return body;
        },
        log,
      });
    } catch (error) {
      reply = errorReply(error);
      if (reply.status >= 500) {
        const level = reply.status === 503 ? "warn" : "error";
        log[level]({ err: error, method, path, status: reply.status }, "request failed");
      }
    }
    // A body still arriving (refused as too large, or never wanted) is not worth draining: the
    // connection closes after the reply instead.
    send(response, reply, request.complete);
    const ms = Math.round(performance.now() - started);
    // Method, path, status and time only: the headers carry the admin token.
    log[access === "admin" ? "info" : "debug"]({ method, path, status: reply.status, ms }, "request");
  };

  const server = createServer((request, response) => {
    handle(request, response).catch((error) => {
      log.error({ err: error }, "request handler failed");
      response.destroy();
    });
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;

  await new Promise<void>((resolve, reject) => {
    const onError = (error: Error) => {
      reject(
        new ShadowdbError(
          "HTTP_LISTEN",
          `http: cannot listen on ${options.host}:${options.port}: ${error.message}`,
          { cause: error },
        ),
      );
    };
    server.once("error", onError);
    server.listen(options.port, options.host, () => {
      server.off("error", onError);
      resolve();
    });
  });
  server.on("error", (error) => log.error({ err: error }, "http server error"));
  const { port } = server.address() as AddressInfo;
  log.info({ host: options.host, port }, "http listening");

  let closed: Promise<void> | undefined;
  return {
    port,
    close() {
      closed ??= new Promise<void>((resolve) => {
        closing = true;
        const timer = setTimeout(() => server.closeAllConnections(), graceMs);
        timer.unref();
        server.close(() => {
          clearTimeout(timer);
          resolve();
        });
        server.closeIdleConnections();
      });
      return closed;
    },
  };
}
