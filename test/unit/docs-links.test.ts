/** Every relative link in the project's Markdown leads to a file or folder of the checkout. */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";

/** [text](target) and [text]: target; the target stops at whitespace or the closing parenthesis. */
const links = /\]\(([^)\s]+)[^)]*\)|^\s*\[[^\]]+\]:\s*(\S+)/gm;

function markdownFiles(): string[] {
  const files = execFileSync("git", ["ls-files", "-z", "--", "*.md"], { encoding: "utf8" });
  // The corpus is vendored verbatim; its provenance links point at the projects it came from.
  return files.split("\0").filter((f) => f && !f.startsWith("test/fixtures/corpus/") && existsSync(f));
}

test("relative links in Markdown files resolve", () => {
  const broken: string[] = [];
  for (const file of markdownFiles()) {
    const text = readFileSync(file, "utf8").replace(/```[\s\S]*?```/g, "");
    for (const m of text.matchAll(links)) {
      const target = (m[1] ?? m[2] ?? "").replace(/^<|>$/g, "");
      if (!target || /^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith("#")) continue;
      const bare = decodeURIComponent(target.split("#")[0]!);
      if (!existsSync(path.join(path.dirname(file), bare))) broken.push(`${file}: ${target}`);
    }
  }
  assert.deepEqual(broken, []);
});
