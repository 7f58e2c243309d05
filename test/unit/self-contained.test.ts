/**
 * The checkout is the whole project: no tracked file may read or link a sibling folder of the
 * repository (the team's shared corpus and design notes are vendored under test/fixtures and docs).
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { test } from "node:test";

const self = "test/unit/self-contained.test.ts";
const outside = ["..", "shared"].join("/");

test("no tracked file points outside the checkout", () => {
  const files = execFileSync("git", ["ls-files", "-z"], { encoding: "utf8" }).split("\0").filter(Boolean);
  assert.ok(files.length > 100, `git ls-files listed only ${files.length} files`);
  const offenders: string[] = [];
  for (const file of files) {
    if (file === self) continue;
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch {
      continue; // listed but absent from the work tree (e.g. deleted, not yet committed)
    }
    text.split("\n").forEach((line, i) => {
      if (line.includes(outside)) offenders.push(`${file}:${i + 1}: ${line.trim()}`);
    });
  }
  assert.deepEqual(offenders, []);
});
