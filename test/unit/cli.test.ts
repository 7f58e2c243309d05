import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { test } from "node:test";
import { commands } from "../../src/cli/app.ts";

const cli = (...args: string[]) =>
  spawnSync(process.execPath, ["--import", "tsx", "src/cli/main.ts", ...args], { encoding: "utf8" });

test("--help lists every command of the interface and exits 0", () => {
  const run = cli("--help");
  assert.equal(run.status, 0);
  for (const name of ["run", "check", "status", "diff", "reset", "decode", "demo"]) {
    assert.ok(name in commands);
    assert.match(run.stdout, new RegExp(`shadowdb ${name}\\b`));
  }
});

test("an unknown command exits 2 and names itself", () => {
  const run = cli("frobnicate");
  assert.equal(run.status, 2);
  assert.match(run.stderr, /unknown command 'frobnicate'/);
});

test("decode prints the event as lossless JSON", () => {
  const run = cli("decode", "test/fixtures/corpus/postgres/pg-2.2.0-artie-integers-update-with-schema.json");
  assert.equal(run.status, 0, run.stderr);
  const event = JSON.parse(run.stdout);
  assert.equal(event.op, "u");
  // int64 as strings, so nothing is rounded on the way out.
  assert.ok(Object.values(event.after).includes("2305843009213693952"));
});

test("decode reads stdin and shows the unchanged marker", () => {
  const input = readFileSync(
    "test/fixtures/corpus/postgres/pg-0.10.0-blog-toast-unavailable-value-update-schemaless.json",
  );
  const run = spawnSync(process.execPath, ["--import", "tsx", "src/cli/main.ts", "decode", "-"], {
    input,
    encoding: "utf8",
  });
  assert.equal(run.status, 0, run.stderr);
  assert.deepEqual(JSON.parse(run.stdout).after.biography, { $unchanged: true });
});

test("decode errors print their code and exit 2", () => {
  const run = spawnSync(process.execPath, ["--import", "tsx", "src/cli/main.ts", "decode", "-"], {
    input: '{"op": "z", "source": {}}',
    encoding: "utf8",
  });
  assert.equal(run.status, 2);
  assert.match(run.stderr, /^DECODE_UNKNOWN_OP: unknown op "z"/);
});

test("run with a bad config names each bad key and exits 2", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "shadowdb-cli-"));
  const file = path.join(dir, "bad.yaml");
  writeFileSync(
    file,
    "kafka: { brokers: localhost, groupId: g }\ntarget: { dialect: oracle, url: x }\ntables: [ { topic: t, table: orders } ]\n",
  );
  const run = cli("run", "--config", file);
  assert.equal(run.status, 2);
  assert.match(run.stderr, /CONFIG_INVALID/);
  assert.match(run.stderr, /kafka\.brokers\[0\]: expected "host:port"/);
  assert.match(run.stderr, /target\.dialect: expected one of postgres, mysql/);
  assert.match(run.stderr, /tables\[0\]\.table/);
});

test("run with a missing config file says which file and why", () => {
  const run = cli("run", "--config", "/nonexistent/shadowdb.yaml");
  assert.equal(run.status, 2);
  assert.match(run.stderr, /CONFIG_UNREADABLE.*\/nonexistent\/shadowdb\.yaml/);
});
