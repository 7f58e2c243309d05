/**
 * docs/errors.md is generated (scripts/errors-reference.ts) from the catalogue in src/errors.ts;
 * it must be what the script makes of it now. Also: every code of the catalogue sits in exactly
 * one group, and a code the catalogue gains shows on the page.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { outputFile, renderErrorsReference } from "../../scripts/errors-reference.ts";
import { errorCodes, errorGroups } from "../../src/errors.ts";
import { assertUpToDate } from "../support/generated-doc.ts";

test("docs/errors.md is up to date with src/errors.ts", async () => {
  const markdown = renderErrorsReference();
  await assertUpToDate(outputFile, markdown, "npm run docs:errors");
});

test("every code of the catalogue is in exactly one group", () => {
  const grouped = errorGroups.flatMap((g) => Object.keys(g.codes));
  assert.deepEqual([...grouped].sort(), Object.keys(errorCodes).sort());
  assert.equal(new Set(grouped).size, grouped.length);
});

test("each code is listed with its retriability, meaning and fix (the staleness test can fail)", () => {
  const groups = [
    {
      title: "Things",
      area: "src/things",
      codes: {
        THING_GONE: { retriable: true, summary: "the thing went away" },
        THING_BAD: { retriable: false, summary: "the thing is bad", fix: "use | another thing" },
      },
    },
  ];
  const before = renderErrorsReference(groups);
  assert.match(before, /^## Things$/m);
  assert.match(before, /^\| `THING_GONE` \| yes \| The thing went away\. \| {2}\|$/m);
  assert.match(before, /^\| `THING_BAD` \| no \| The thing is bad\. \| Use \\\| another thing\. \|$/m);
  const after = renderErrorsReference([
    { ...groups[0]!, codes: { ...groups[0]!.codes, THING_NEW: { retriable: false, summary: "new" } } },
  ]);
  assert.notEqual(before, after);
});
