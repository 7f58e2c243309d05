// The sample service of the compose story: a tiny "orders" HTTP API on PostgreSQL.
//
// It runs twice: `orders` (SAMPLE_VERSION=v1, production, on the production database) and
// `orders-shadow` (SAMPLE_VERSION=v2, the new version, on the shadow database that shadowdb keeps
// current). Envoy sends every request to `orders` and a copy to `orders-shadow`. The one change
// in v2 is deliberate, so that /diff has something to show: v2 stores order statuses upper-case.
//
//   GET    /healthz          200 when the database answers
//   GET    /orders           every order, by id
//   GET    /orders/:id       one order
//   POST   /orders           {"customer": "…", "total": "12.50", "status"?: "placed"} → 201
//   PATCH  /orders/:id       {"customer"?, "total"?, "status"?} → 200
//   DELETE /orders/:id       → 204
//
// Environment: DATABASE_URL (required), PORT (default 8080), SAMPLE_VERSION (v1 or v2).
// The table is created by schema.sql (the "migration", run on both databases), not here.
import { createServer } from "node:http";
import pg from "pg";

const databaseUrl = process.env.DATABASE_URL;
if (!databaseUrl) {
  console.error("orders: DATABASE_URL is not set");
  process.exit(2);
}
const port = Number(process.env.PORT ?? 8080);
const version = process.env.SAMPLE_VERSION ?? "v1";
if (version !== "v1" && version !== "v2") {
  console.error(`orders: SAMPLE_VERSION must be v1 or v2, got ${JSON.stringify(version)}`);
  process.exit(2);
}

const pool = new pg.Pool({ connectionString: databaseUrl, max: 5 });
// An idle client that loses its connection must not take the process down; the next query reconnects.
pool.on("error", (error) => console.error(`orders: idle database connection lost: ${error.message}`));

const columns = "id, customer, total, status, updated_at";
const status = (value) => (version === "v2" ? String(value).toUpperCase() : String(value));

class HttpError extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

async function readJson(request) {
  const chunks = [];
  let size = 0;
  for await (const chunk of request) {
    size += chunk.length;
    if (size > 65536) throw new HttpError(413, "body larger than 64 KiB");
    chunks.push(chunk);
  }
  try {
    const body = JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}");
    if (body === null || typeof body !== "object" || Array.isArray(body)) throw new Error("not an object");
    return body;
  } catch {
    throw new HttpError(400, "the body must be a JSON object");
  }
}

function orderId(text) {
  if (!/^[0-9]{1,18}$/.test(text)) throw new HttpError(404, "no such order");
  return text;
}

async function handle(request) {
  const url = new URL(request.url ?? "/", "http://localhost");
  const method = request.method ?? "GET";
  if (url.pathname === "/healthz" && method === "GET") {
    await pool.query("SELECT 1");
    return [200, { ok: true, version }];
  }
  if (url.pathname === "/orders") {
    if (method === "GET") return [200, (await pool.query(`SELECT ${columns} FROM orders ORDER BY id`)).rows];
    if (method === "POST") {
      const body = await readJson(request);
      if (typeof body.customer !== "string" || body.total === undefined)
        throw new HttpError(400, "customer (string) and total are required");
      const result = await pool.query(
        `INSERT INTO orders (customer, total, status) VALUES ($1, $2, $3) RETURNING ${columns}`,
        [body.customer, String(body.total), status(body.status ?? "placed")],
      );
      return [201, result.rows[0]];
    }
  }
  const match = /^\/orders\/([^/]+)$/.exec(url.pathname);
  if (match) {
    const id = orderId(match[1]);
    if (method === "GET") {
      const result = await pool.query(`SELECT ${columns} FROM orders WHERE id = $1`, [id]);
      if (result.rowCount === 0) throw new HttpError(404, "no such order");
      return [200, result.rows[0]];
    }
    if (method === "PATCH") {
      const body = await readJson(request);
      const result = await pool.query(
        `UPDATE orders SET customer = COALESCE($2, customer), total = COALESCE($3, total),
           status = COALESCE($4, status), updated_at = now()
         WHERE id = $1 RETURNING ${columns}`,
        [
          id,
          typeof body.customer === "string" ? body.customer : null,
          body.total === undefined ? null : String(body.total),
          body.status === undefined ? null : status(body.status),
        ],
      );
      if (result.rowCount === 0) throw new HttpError(404, "no such order");
      return [200, result.rows[0]];
    }
    if (method === "DELETE") {
      const result = await pool.query("DELETE FROM orders WHERE id = $1", [id]);
      if (result.rowCount === 0) throw new HttpError(404, "no such order");
      return [204, undefined];
    }
  }
  throw new HttpError(404, `no route for ${method} ${url.pathname}`);
}

const server = createServer((request, response) => {
  handle(request)
    .catch((error) => {
      if (error instanceof HttpError) return [error.code, { error: error.message }];
      // 22P02 invalid text (a total that is no number), 23505 unique, 23514 check: the caller's fault.
      if (["22P02", "22003", "23505", "23514"].includes(error?.code)) return [400, { error: error.message }];
      console.error(`orders: ${request.method} ${request.url}: ${error?.stack ?? error}`);
      return [500, { error: "internal error" }];
    })
    .then(([code, body]) => {
      response.writeHead(code, {
        "content-type": "application/json",
        "x-served-by": `orders-${version}`,
      });
      response.end(body === undefined ? undefined : `${JSON.stringify(body)}\n`);
    });
});

server.listen(port, "0.0.0.0", () => console.log(`orders ${version} listening on :${server.address().port}`));

for (const signal of ["SIGINT", "SIGTERM"]) {
  process.once(signal, () => {
    server.close();
    server.closeAllConnections();
    pool.end().finally(() => process.exit(0));
  });
}
