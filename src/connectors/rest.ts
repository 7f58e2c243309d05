/**
 * Writing to Kafka Connect's REST API (src/check/connect-rest.ts only reads): one request at a
 * time, JSON in and out, credentials in the URL sent as a Basic header (fetch refuses URLs that
 * carry them). A request that gets no answer (refused, DNS, timeout) or is refused for its
 * credentials (401, 403) throws ConnectUnreachable; any other answer, error statuses included, is
 * returned for the caller to judge.
 */
import { redactUrl } from "../config/index.ts";
import { type ErrorCode, ShadowdbError } from "../errors.ts";

export interface ConnectAnswer<T> {
  status: number;
  /** The parsed body; undefined when it was empty or not JSON. */
  body: T | undefined;
  /** Connect's `message` for an error status, when it sent one. */
  message: string | undefined;
}

/** Connect gave no usable answer: the CLI says so in one line whatever the code. */
export class ConnectUnreachable extends ShadowdbError {
  constructor(code: Extract<ErrorCode, `CONNECT_${string}`>, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = "ConnectUnreachable";
  }
}

export interface ConnectRest {
  /** The URL as it may be shown: password replaced by ***. */
  readonly shown: string;
  request<T>(method: string, route: string, body?: unknown): Promise<ConnectAnswer<T>>;
}

export function connectRest(baseUrl: string, timeoutMs = 30_000): ConnectRest {
  const shown = redactUrl(baseUrl).replace(/\/+$/, "");
  let base: URL;
  try {
    base = new URL(baseUrl.endsWith("/") ? baseUrl : `${baseUrl}/`);
  } catch {
    throw new ConnectUnreachable("CONNECT_BAD_URL", `${shown} is not a URL`);
  }
  const headers: Record<string, string> = { accept: "application/json", "content-type": "application/json" };
  if (base.username !== "" || base.password !== "") {
    const credentials = `${decodeURIComponent(base.username)}:${decodeURIComponent(base.password)}`;
    headers.authorization = `Basic ${Buffer.from(credentials).toString("base64")}`;
    base.username = "";
    base.password = "";
  }
  return {
    shown,
    async request<T>(method: string, route: string, body?: unknown): Promise<ConnectAnswer<T>> {
      const url = new URL(route.replace(/^\//, ""), base);
      let response: Response;
      let text: string;
      try {
        response = await fetch(url, {
          method,
          headers,
          body: body === undefined ? undefined : JSON.stringify(body),
          signal: AbortSignal.timeout(timeoutMs),
        });
        text = await response.text();
      } catch (error) {
        throw new ConnectUnreachable("CONNECT_UNREACHABLE", `${method} ${shown}${route}: ${reason(error)}`, {
          cause: error,
        });
      }
      if (response.status === 401 || response.status === 403) {
        throw new ConnectUnreachable(
          "CONNECT_CREDENTIALS",
          `${method} ${shown}${route}: HTTP ${response.status}: the REST API refuses these credentials (give them as user:password@ in the URL)`,
        );
      }
      let parsed: unknown;
      try {
        parsed = text === "" ? undefined : JSON.parse(text);
      } catch {
        parsed = undefined;
      }
      const message =
        response.ok || typeof (parsed as { message?: unknown } | undefined)?.message !== "string"
          ? undefined
          : (parsed as { message: string }).message;
      return { status: response.status, body: parsed as T | undefined, message };
    },
  };
}

/** fetch's own message is "fetch failed"; the cause says what happened (ECONNREFUSED, ENOTFOUND…). */
function reason(error: unknown): string {
  if (error instanceof Error && error.name === "TimeoutError") return "no answer (timed out)";
  const cause = (error as { cause?: { code?: unknown; message?: unknown } } | undefined)?.cause;
  if (typeof cause?.message === "string" && cause.message !== "") return cause.message;
  if (typeof cause?.code === "string") return cause.code;
  return error instanceof Error ? error.message : String(error);
}
