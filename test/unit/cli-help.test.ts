/** Every command answers --help / -h from the command table: usage, options, exit codes; exit 0. */
import assert from "node:assert/strict";
import { type TestContext, test } from "node:test";
import { commands, main } from "../../src/cli/app.ts";

async function captured(t: TestContext, argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const log = t.mock.method(console, "log", (...args: unknown[]) => out.push(args.join(" ")));
  const error = t.mock.method(console, "error", (...args: unknown[]) => err.push(args.join(" ")));
  try {
    const code = await main(argv);
    return { code, out: out.join("\n"), err: err.join("\n") };
  } finally {
    log.mock.restore();
    error.mock.restore();
  }
}

const names = Object.keys(commands);

test("the table has the interface's commands", () => {
  assert.deepEqual([...names].sort(), [
    "check",
    "connectors",
    "decode",
    "demo",
    "diff",
    "overlay",
    "reset",
    "resync",
    "run",
    "seed",
    "status",
  ]);
});

for (const name of names) {
  test(`${name} --help prints its usage, options and exit codes and exits 0`, async (t) => {
    const command = commands[name]!;
    for (const flag of ["--help", "-h"]) {
      const { code, out, err } = await captured(t, [name, flag]);
      assert.equal(code, 0, err);
      assert.equal(err, "");
      assert.ok(out.startsWith(`usage: shadowdb ${command.usage}\n`), out);
      for (const [option] of command.options) assert.ok(out.includes(`  ${option}  `), `${name}: ${option}`);
      assert.ok(out.includes("\nexit codes:\n"), out);
      const exits = out.slice(out.indexOf("\nexit codes:\n"));
      for (const [exit, when] of command.exits)
        assert.ok(exits.includes(`  ${exit}  ${when}`), `${name}: ${exit}`);
      assert.match(exits, /^ {2}0 {2}/m, "every command documents success");
      assert.match(exits, /^ {2}2 {2}/m, "every command documents usage errors");
    }
  });
}

test("--help wins over the other arguments: nothing runs, no config is read", async (t) => {
  const { code, out } = await captured(t, ["status", "--config", "/nonexistent.yaml", "--help"]);
  assert.equal(code, 0);
  assert.match(out, /^usage: shadowdb status --config FILE/);
});

test("diff and check document exit 1 for what they find", async (t) => {
  assert.match((await captured(t, ["diff", "--help"])).out, /^ {2}1 {2}differences$/m);
  assert.match((await captured(t, ["check", "--help"])).out, /^ {2}1 {2}a check failed$/m);
});

test("help <command> is the same as <command> --help", async (t) => {
  const a = await captured(t, ["help", "reset"]);
  const b = await captured(t, ["reset", "--help"]);
  assert.equal(a.code, 0);
  assert.equal(a.out, b.out);
});

test("an unknown option is a usage error: exit 2 with the command's usage, no stack", async (t) => {
  const { code, err } = await captured(t, ["status", "--config", "x.yaml", "--frobnicate"]);
  assert.equal(code, 2);
  assert.match(err, /^shadowdb status: Unknown option '--frobnicate'/);
  assert.match(err, /usage: shadowdb status --config FILE/);
});

test("the overview points at per-command help and states the exit codes", async (t) => {
  const { code, out } = await captured(t, ["--help"]);
  assert.equal(code, 0);
  for (const name of names) assert.match(out, new RegExp(`^ {2}shadowdb ${name}\\b`, "m"));
  assert.match(out, /shadowdb <command> --help/);
  assert.match(out, /exit codes: 0 success; 1 .*\n.*; 2 usage or config error/);
});
