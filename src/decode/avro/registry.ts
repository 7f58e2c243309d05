/**
 * A small schema registry client: the writer schema of an id, from Confluent's API
 * (`GET /schemas/ids/{id}`; also Karapace, Redpanda and Apicurio's `/apis/ccompat/v7`) or
 * Apicurio's own (`GET /apis/registry/v2/ids/globalIds/{id}`). Answers are bounded in size and
 * time; each id is fetched once (concurrent asks share the request) and kept, bounded.
 * Written here: the maintained Node clients read Confluent's framing only, or pull in cloud SDKs.
 */
import http from "node:http";
import https from "node:https";
import { ShadowdbError } from "../../errors.ts";
import { preview } from "../limits.ts";
import type { SchemaRef } from "./framing.ts";
import type { SchemaSource } from "./schemas.ts";

export interface RegistryOptions {
  /** The registry's base URL: a Confluent-compatible root, Apicurio's root, or either API's path under it. */
  url: string;
  username?: string;
  password?: string;
  token?: string;
  tls?: { ca?: string; cert?: string; key?: string };
  /** Per request; default 10 s. */
  timeoutMs?: number;
  /** An answer larger than this is refused; default 8 MiB (a wide table's schema is some 100 KiB). */
  maxResponseBytes?: number;
  /** Schemas kept (oldest evicted first); default 1024. */
  cacheSize?: number;
}

interface Answer {
  status: number;
  body: string;
  artifactType: string | undefined;
}

const CCOMPAT = /\/apis\/ccompat\/v\d+\/?$/;
const APICURIO_V2 = /\/apis\/registry\/v2\/?$/;

/** Both APIs' bases from the one URL the user gives (either API's path, or the server's root). */
export function apiBases(url: string): { confluent: string; apicurio: string } {
  const base = url.replace(/\/+$/, "");
  if (CCOMPAT.test(base))
    return { confluent: base, apicurio: `${base.replace(CCOMPAT, "")}/apis/registry/v2` };
  if (APICURIO_V2.test(base))
    return { confluent: `${base.replace(APICURIO_V2, "")}/apis/ccompat/v7`, apicurio: base };
  return { confluent: base, apicurio: `${base}/apis/registry/v2` };
}

export class RegistryClient implements SchemaSource {
  private readonly cache = new Map<string, Promise<unknown>>();
  private readonly bases: { confluent: string; apicurio: string };
  private readonly headers: Record<string, string> = { accept: "application/json" };

  constructor(private readonly options: RegistryOptions) {
    try {
      new URL(options.url);
    } catch {
      throw new ShadowdbError(
        "REGISTRY_REFUSED",
        `the schema registry URL is not a URL: ${preview(options.url, 80)}`,
      );
    }
    this.bases = apiBases(options.url);
    if (options.token !== undefined) this.headers.authorization = `Bearer ${options.token}`;
    else if (options.username !== undefined) {
      const basic = Buffer.from(`${options.username}:${options.password ?? ""}`).toString("base64");
      this.headers.authorization = `Basic ${basic}`;
    }
  }

  /** The id's writer schema (parsed JSON); a retriable failure is not kept, so the next ask tries again. */
  schema(ref: SchemaRef): Promise<unknown> {
    const key = `${ref.kind}:${ref.id}`;
    let pending = this.cache.get(key);
    if (!pending) {
      pending = this.fetchSchema(ref);
      const limit = this.options.cacheSize ?? 1024;
      if (this.cache.size >= limit) this.cache.delete(this.cache.keys().next().value!);
      this.cache.set(key, pending);
      pending.catch((error) => {
        if (!(error instanceof ShadowdbError) || error.retriable) this.cache.delete(key);
      });
    }
    return pending;
  }

  private async fetchSchema(ref: SchemaRef): Promise<unknown> {
    const url =
      ref.kind === "confluent"
        ? `${this.bases.confluent}/schemas/ids/${ref.id}`
        : `${this.bases.apicurio}/ids/globalIds/${ref.id}`;
    const what = `schema ${ref.kind === "confluent" ? "id" : "global id"} ${ref.id}`;
    const answer = await this.get(url, what);
    if (answer.status === 404)
      throw new ShadowdbError("DECODE_SCHEMA_NOT_FOUND", `the schema registry has no ${what}`);
    checkStatus(answer.status, what);
    return ref.kind === "confluent" ? confluentSchema(answer, what) : apicurioSchema(answer, what);
  }

  private get(url: string, what: string): Promise<Answer> {
    const limit = this.options.maxResponseBytes ?? 8 * 1024 * 1024;
    const timeoutMs = this.options.timeoutMs ?? 10_000;
    const target = new URL(url);
    const client = target.protocol === "https:" ? https : http;
    const tls = this.options.tls;
    return new Promise((resolve, reject) => {
      const unavailable = (reason: string, cause?: unknown) =>
        reject(
          new ShadowdbError(
            "REGISTRY_UNAVAILABLE",
            `the schema registry did not answer for ${what}: ${reason}`,
            {
              cause,
            },
          ),
        );
      const request = client.get(
        target,
        {
          headers: this.headers,
          timeout: timeoutMs,
          ...(tls && { ca: tls.ca, cert: tls.cert, key: tls.key }),
        },
        (response) => {
          const declared = Number(response.headers["content-length"] ?? 0);
          const chunks: Buffer[] = [];
          let size = 0;
          const tooLarge = () => {
            request.destroy();
            reject(badSchema(`the registry's answer for ${what} is larger than ${limit} bytes`));
          };
          if (declared > limit) return tooLarge();
          response.on("data", (chunk: Buffer) => {
            size += chunk.length;
            if (size > limit) return tooLarge();
            chunks.push(chunk);
          });
          response.on("end", () => {
            const type = response.headers["x-registry-artifacttype"];
            resolve({
              status: response.statusCode ?? 0,
              body: Buffer.concat(chunks).toString("utf8"),
              artifactType: typeof type === "string" ? type : undefined,
            });
          });
          response.on("error", (error) => unavailable(preview(error.message, 200), error));
          response.on("aborted", () => unavailable("the answer was cut off"));
        },
      );
      // The socket timeout restarts with every byte; an answer trickling in is bounded as a whole too.
      const deadline = setTimeout(
        () => request.destroy(new Error(`no whole answer within ${timeoutMs} ms`)),
        timeoutMs,
      );
      request.on("close", () => clearTimeout(deadline));
      request.on("timeout", () => request.destroy(new Error(`no answer within ${timeoutMs} ms`)));
      request.on("error", (error) => unavailable(preview(error.message, 200), error));
    });
  }
}

function badSchema(message: string): ShadowdbError {
  return new ShadowdbError("DECODE_BAD_REGISTRY_SCHEMA", message);
}

function checkStatus(status: number, what: string): void {
  if (status >= 200 && status < 300) return;
  if (status === 429 || status >= 500)
    throw new ShadowdbError(
      "REGISTRY_UNAVAILABLE",
      `the schema registry answered HTTP ${status} for ${what}`,
    );
  const credentials = status === 401 || status === 403 ? " (check its credentials)" : "";
  throw new ShadowdbError(
    "REGISTRY_REFUSED",
    `the schema registry answered HTTP ${status} for ${what}${credentials}`,
  );
}

function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw badSchema(`the registry's answer for ${what} is not JSON: ${preview(text, 80)}`);
  }
}

function unsupported(type: string, what: string): ShadowdbError {
  return new ShadowdbError("DECODE_FORMAT_UNSUPPORTED", `${what} is a ${type} schema: only Avro is read yet`);
}

/** `{"schema": "<Avro JSON text>", "schemaType"?: "AVRO" | "PROTOBUF" | "JSON"}`. */
function confluentSchema(answer: Answer, what: string): unknown {
  const body = parseJson(answer.body, what);
  if (body === null || typeof body !== "object" || typeof (body as { schema?: unknown }).schema !== "string")
    throw badSchema(`the registry's answer for ${what} has no "schema" text`);
  const { schema, schemaType } = body as { schema: string; schemaType?: unknown };
  if (schemaType !== undefined && schemaType !== "AVRO") throw unsupported(String(schemaType), what);
  return parseJson(schema, what);
}

/** The schema text itself; its artifact type in a header, or told by its content. */
function apicurioSchema(answer: Answer, what: string): unknown {
  const type = answer.artifactType?.toUpperCase();
  if (type !== undefined && type !== "AVRO") throw unsupported(type, what);
  if (/^\s*(syntax|package|message|import)\b/.test(answer.body)) throw unsupported("PROTOBUF", what);
  const schema = parseJson(answer.body, what);
  if (schema !== null && typeof schema === "object" && "$schema" in schema) throw unsupported("JSON", what);
  return schema;
}
