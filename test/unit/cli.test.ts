import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
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
