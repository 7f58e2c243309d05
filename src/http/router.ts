/**
 * The HTTP server's routing: routes by method and exact path, replies as plain values, and every
 * error as JSON `{ "error": CODE, "message": ... }` with the status its code calls for.
 */
import type { IncomingHttpHeaders } from "node:http";
import { type ErrorCode, isShadowdbError, ShadowdbError } from "../errors.ts";
import type { Logger } from "../log.ts";

/** public: anyone who can reach the port (health, metrics); admin: bearer token required. */
export type Access = "public" | "admin";

export interface HttpRequest {
  method: string;
  url: URL;
  /** Never log these: they carry the admin token. */
  headers: IncomingHttpHeaders;
  /** The body parsed as JSON (undefined when empty), at most MAX_BODY_BYTES; read on first call. */
  body(): Promise<unknown>;
  log: Logger;
}

export interface Reply {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export interface Route {
  method: "GET" | "POST";
  /** Exact path, e.g. "/diff". */
  path: string;
  access: Access;
  handle(request: HttpRequest): Promise<Reply>;
}

/** A refusal decided by the HTTP layer itself: its status and code go to the client as they are. */
export class HttpError extends ShadowdbError {
  readonly status: number;
  readonly headers: Record<string, string>;

  constructor(status: number, code: ErrorCode, message: string, headers: Record<string, string> = {}) {
    super(code, message);
    this.name = "HttpError";
    this.status = status;
    this.headers = headers;
  }
}

export function jsonReply(status: number, value: unknown, headers: Record<string, string> = {}): Reply {
  return {
    status,
    headers: { "content-type": "application/json", ...headers },
    body: `${JSON.stringify(value)}\n`,
  };
}

export function textReply(status: number, text: string, contentType = "text/plain; charset=utf-8"): Reply {
  return { status, headers: { "content-type": contentType }, body: text.endsWith("\n") ? text : `${text}\n` };
}

/** The route for a method and path, or the HttpError to answer with (404, or 405 with `Allow`). */
export function findRoute(routes: readonly Route[], method: string, path: string): Route {
  const candidates = routes.filter((r) => r.path === path);
  if (candidates.length === 0) throw new HttpError(404, "HTTP_NOT_FOUND", `no such endpoint: ${path}`);
  const route = candidates.find((r) => r.method === method);
  if (route) return route;
  const allow = [...new Set(candidates.map((r) => r.method))].sort().join(", ");
  throw new HttpError(405, "HTTP_METHOD_NOT_ALLOWED", `${path} accepts ${allow}, not ${method}`, {
    allow,
  });
}

/** The status an error answers with: 4xx for the client's mistakes, 5xx (503: try again) for ours. */
export function errorStatus(error: unknown): number {
  if (error instanceof HttpError) return error.status;
  if (isShadowdbError(error)) {
    if (error.code === "USAGE_INVALID") return 400;
    if (error.code === "OVERLAY_NOT_INSTALLED") return 404;
    return error.retriable ? 503 : 500;
  }
  return 500;
}

/**
 * The JSON reply for an error thrown by the layer or a route. Our own errors keep their code and
 * message; anything else is a bug or a driver's error, whose text stays in the log.
 */
export function errorReply(error: unknown): Reply {
  const status = errorStatus(error);
  if (error instanceof HttpError)
    return jsonReply(status, { error: error.code, message: error.message }, error.headers);
  if (isShadowdbError(error)) return jsonReply(status, { error: error.code, message: error.message });
  return jsonReply(status, { error: "INTERNAL_ERROR", message: "internal error; see the server log" });
}
