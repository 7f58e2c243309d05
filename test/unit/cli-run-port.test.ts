/**
 * `shadowdb run` with its http.port held by someone else: one line naming the key and the address,
 * exit 2, before anything connects (the config's Kafka and target answer nowhere).
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { test } from "node:test";

test("run with http.port in use prints one line naming http.port and the address, and exits 2", async () => {
  const holder = createServer();
  await new Promise<void>((resolve) => holder.listen(0, "127.0.0.1", resolve));
  const { port } = holder.address() as { port: number };
  try {
    const file = path.join(mkdtempSync(path.join(tmpdir(), "shadowdb-port-")), "config.yaml");
    writeFileSync(
      file,
      [
        "kafka: { brokers: [ '127.0.0.1:1' ], groupId: g }",
        "target: { dialect: postgres, url: 'postgres://u:p@127.0.0.1:1/db' }",
        "tables: [ { topic: t, table: public.orders } ]",
        `http: { host: 127.0.0.1, port: ${port}, adminToken: change-me-0123456789 }`,
      ].join("\n"),
    );
    const child = spawn(process.execPath, ["--import", "tsx", "src/cli/main.ts", "run", "--config", file]);
    let stderr = "";
    let stdout = "";
    child.stderr.on("data", (chunk) => (stderr += chunk));
    child.stdout.on("data", (chunk) => (stdout += chunk));
    const status = await new Promise<number | null>((resolve) => child.on("close", resolve));
    assert.equal(
      stderr,
      `shadowdb run: HTTP_LISTEN: http.port ${port} on 127.0.0.1 is in use (EADDRINUSE)\n`,
      `stdout: ${stdout}`,
    );
    assert.equal(status, 2);
  } finally {
    holder.close();
  }
});
