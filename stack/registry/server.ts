/**
 * A small schema registry for the local stack: TEST INFRASTRUCTURE, not a part of shadowdb.
 *
 * Neither Apicurio Registry's server nor Confluent Schema Registry can be obtained on the machines
 * this stack targets, so it answers exactly the calls the Apicurio Avro converter 2.6 makes and
 * the ones a consumer uses to fetch writer schemas, following the published API documents:
 * Apicurio Registry 2.x REST API (`/apis/registry/v2`) and the Confluent Schema Registry API
 * reference, as Apicurio serves it (`/apis/ccompat/v7`, and `v6` as older servers call it).
 * Where a Docker engine is reachable, the real `apicurio/apicurio-registry` image is used instead.
 *
 * Routes:
 *   POST /apis/registry/v2/groups/{group}/artifacts   (?ifExists=…&canonical=…, X-Registry-ArtifactId)
 *   GET  /apis/registry/v2/groups/{group}/artifacts/{id}/meta
 *   GET  /apis/registry/v2/ids/{globalIds|contentIds}/{id}[/references]
 *   GET  /apis/ccompat/{v6|v7}/schemas/ids/{contentId}  → {"schema": "…"}
 */
import { randomUUID } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { type IfExists, type Registered, RegistryStore } from "./store.ts";

/** Debezium's largest envelope schemas are tens of KiB; anything this big is a mistake or an attack. */
export const maxBodyBytes = 4 * 1024 * 1024;

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    override readonly name = "RegistryException",
  ) {
    super(message);
  }
}

/**
 * The 2.6 client parses dates with the pattern `yyyy-MM-dd'T'HH:mm:ssZ`: an ISO string with
 * milliseconds and `Z` makes it fail, so the offset is written as `+0000`.
 */
export function apicurioDate(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 19)}+0000`;
}

function metaData({ artifact, version }: Registered) {
  return {
    groupId: artifact.groupId,
    id: artifact.artifactId,
    name: artifact.artifactId,
    description: "",
    createdBy: "",
    createdOn: apicurioDate(version.createdOn),
    modifiedBy: "",
    modifiedOn: apicurioDate(version.createdOn),
    version: version.version,
    type: artifact.type,
    globalId: version.globalId,
    state: "ENABLED",
    labels: [],
    properties: {},
    contentId: version.contentId,
    references: [],
  };
}

const ifExistsValues = new Set<IfExists>(["FAIL", "UPDATE", "RETURN", "RETURN_OR_UPDATE"]);

async function readBody(request: http.IncomingMessage): Promise<string> {
  const declared = Number(request.headers["content-length"] ?? 0);
  if (declared > maxBodyBytes) throw new HttpError(413, `body over ${maxBodyBytes} bytes`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBodyBytes) throw new HttpError(413, `body over ${maxBodyBytes} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString("utf8");
}

function id(raw: string): number {
  if (!/^\d{1,15}$/.test(raw)) throw new HttpError(404, `no id ${raw}`);
  return Number(raw);
}

type Answer = { status: number; json?: unknown; text?: string };

async function route(store: RegistryStore, request: http.IncomingMessage): Promise<Answer> {
  const url = new URL(request.url ?? "/", "http://registry");
  const parts = url.pathname.split("/").filter(Boolean).map(decodeURIComponent);
  const method = request.method ?? "GET";
  const [apis, api, ...rest] = parts;
  if (apis !== "apis") throw new HttpError(404, `no route ${url.pathname}`);

  if (api === "registry" && rest[0] === "v2") {
    const [, first, second, third, fourth, fifth] = rest;
    if (first === "groups" && second && third === "artifacts" && fourth === undefined && method === "POST") {
      const ifExists = (url.searchParams.get("ifExists") ?? "FAIL") as IfExists;
      if (!ifExistsValues.has(ifExists)) throw new HttpError(400, `ifExists=${ifExists} is not supported`);
      let text = await readBody(request);
      // A create request with references wraps the schema; Debezium's schemas have none.
      if (String(request.headers["content-type"] ?? "").includes("create.extended")) {
        text = String((JSON.parse(text) as { content?: unknown }).content ?? "");
      }
      const artifactId = String(request.headers["x-registry-artifactid"] ?? randomUUID());
      const type = String(request.headers["x-registry-artifacttype"] ?? "AVRO");
      const registered = store.register(second, artifactId, type, text, {
        ifExists,
        canonical: url.searchParams.get("canonical") === "true",
      });
      if (!registered)
        throw new HttpError(409, `artifact ${artifactId} exists`, "ArtifactAlreadyExistsException");
      return { status: 200, json: metaData(registered) };
    }
    if (
      first === "groups" &&
      second &&
      third === "artifacts" &&
      fourth &&
      fifth === "meta" &&
      method === "GET"
    ) {
      const latest = store.latest(second, fourth);
      if (!latest)
        throw new HttpError(404, `no artifact ${fourth} in group ${second}`, "ArtifactNotFoundException");
      return { status: 200, json: metaData(latest) };
    }
    if (first === "ids" && (second === "globalIds" || second === "contentIds") && third && method === "GET") {
      const n = id(third);
      const text = second === "globalIds" ? store.contentByGlobalId(n) : store.contentByContentId(n);
      if (text === undefined || (fourth !== undefined && fourth !== "references") || fifth !== undefined) {
        throw new HttpError(404, `no ${second} ${third}`, "ArtifactNotFoundException");
      }
      return fourth === "references" ? { status: 200, json: [] } : { status: 200, text };
    }
  }
  if (api === "ccompat" && (rest[0] === "v6" || rest[0] === "v7") && method === "GET") {
    const [, schemas, ids, raw, extra] = rest;
    if (schemas === "schemas" && ids === "ids" && raw && extra === undefined) {
      const text = store.contentByContentId(id(raw));
      if (text === undefined) throw new HttpError(404, "Schema not found", "40403");
      return { status: 200, json: { schema: text } };
    }
  }
  throw new HttpError(404, `no route ${method} ${url.pathname}`);
}

function errorBody(error: HttpError, ccompat: boolean): unknown {
  // Confluent's error codes are the HTTP status with a detail suffix (40403: schema not found).
  if (ccompat) return { error_code: Number(error.name) || error.status, message: error.message };
  return { error_code: error.status, message: error.message, name: error.name, detail: "" };
}

export interface RunningRegistry {
  port: number;
  close(): Promise<void>;
}

/** Starts the registry on `port` (0: any free port); `file` persists it, none keeps it in memory only. */
export async function startRegistry(opts: {
  port: number;
  host?: string;
  file?: string;
}): Promise<RunningRegistry> {
  const store = new RegistryStore(opts.file);
  const server = http.createServer((request, response) => {
    route(store, request).then(
      (answer) => {
        const body = answer.text ?? JSON.stringify(answer.json);
        response.writeHead(answer.status, { "content-type": "application/json" }).end(body);
      },
      (error: unknown) => {
        const known = error instanceof HttpError ? error : new HttpError(500, String(error));
        const ccompat = (request.url ?? "").startsWith("/apis/ccompat/");
        // A refused body is not read to its end: close the connection instead of draining it.
        if (known.status === 413) response.setHeader("connection", "close");
        response
          .writeHead(known.status, { "content-type": "application/json" })
          .end(JSON.stringify(errorBody(known, ccompat)));
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port, opts.host ?? "127.0.0.1", resolve);
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
