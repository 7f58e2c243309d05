/**
 * The admin endpoints over the overlay: `GET /diff` and `POST /reset`. The work itself is
 * injected (src/overlay/admin.ts over an open target, in `shadowdb run`), so the HTTP layer never
 * touches a database driver; here only the requests are checked and the answers shaped.
 */
import type { Value } from "../decode/values.ts";
import { ShadowdbError } from "../errors.ts";
import { diffJson, keyArgument, type ResetCount, tableArgument } from "../overlay/admin.ts";
import { diffText } from "../overlay/diff-text.ts";
import type { TableDiff } from "../target/dialect.ts";
import { type HttpRequest, jsonReply, type Route, textReply } from "./router.ts";

export interface AdminWork {
  /** Owned rows against production: every installed overlay, or one `schema.table`. */
  diff(table?: string): Promise<TableDiff[]>;
  /** Owned rows back to production: every installed overlay, one table, or one key of one table. */
  reset(table?: string, key?: Record<string, Value>): Promise<ResetCount[]>;
}

const usage = (message: string) => new ShadowdbError("USAGE_INVALID", message);

/** The query's parameters, each at most once and none but those named. */
function queryParameters(url: URL, allowed: readonly string[]): Record<string, string | undefined> {
  const values: Record<string, string | undefined> = {};
  for (const [name, value] of url.searchParams) {
    if (!allowed.includes(name))
      throw usage(`unknown query parameter ${JSON.stringify(name)}; expected ${allowed.join(", ")}`);
    if (values[name] !== undefined) throw usage(`query parameter ${name} given twice`);
    values[name] = value;
  }
  return values;
}

async function diff(work: AdminWork, request: HttpRequest) {
  const { table, format = "json" } = queryParameters(request.url, ["table", "format"]);
  if (format !== "json" && format !== "text")
    throw usage(`format ${JSON.stringify(format)}: expected json or text`);
  if (table !== undefined) tableArgument(table);
  const diffs = await work.diff(table);
  return format === "json" ? jsonReply(200, diffJson(diffs)) : textReply(200, diffText(diffs));
}

/** `{"table": "schema.table", "key": {...}}`, both optional; an empty body resets every overlay. */
function resetArguments(body: unknown): { table?: string; key?: Record<string, Value> } {
  if (body === undefined) return {};
  if (typeof body !== "object" || body === null || Array.isArray(body))
    throw usage('the body must be a JSON object: {"table": "schema.table", "key": {...}}, both optional');
  const { table, key, ...rest } = body as Record<string, unknown>;
  const unknown = Object.keys(rest);
  if (unknown.length > 0)
    throw usage(`unknown field(s) ${unknown.map((k) => JSON.stringify(k)).join(", ")}; expected table, key`);
  if (table !== undefined && typeof table !== "string") throw usage("table: expected a string, schema.table");
  if (table !== undefined) tableArgument(table);
  if (key === undefined) return { table };
  if (table === undefined) throw usage("a key needs its table");
  if (typeof key === "string") throw usage('key: expected a JSON object of key columns, e.g. {"id": 42}');
  const checked = keyArgument(key);
  if (Object.keys(checked).length === 0) throw usage("key: names no column");
  return { table, key: checked };
}

async function reset(work: AdminWork, request: HttpRequest) {
  queryParameters(request.url, []);
  const { table, key } = resetArguments(await request.body());
  const counts = await work.reset(table, key);
  request.log.info({ table: table ?? "*", byKey: key !== undefined, counts }, "overlay reset over HTTP");
  return jsonReply(200, { reset: counts });
}

export function adminRoutes(work: AdminWork): Route[] {
  return [
    { method: "GET", path: "/diff", access: "admin", handle: (request) => diff(work, request) },
    { method: "POST", path: "/reset", access: "admin", handle: (request) => reset(work, request) },
  ];
}
