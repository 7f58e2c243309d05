/**
 * docs/config.md is generated (scripts/config-reference.ts) from the zod schema and the comments of
 * config/postgres.yaml; it must be what the script makes of them now. Also checks that the walk
 * reads the schema (types, defaults, allowed values, required keys) and that the comment parser
 * attaches the right text to the right key, on small made-up examples.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { z } from "zod";
import {
  exampleDescriptions,
  outputFile,
  renderConfigReference,
  renderReference,
  schemaKeys,
} from "../../scripts/config-reference.ts";
import { assertUpToDate } from "../support/generated-doc.ts";

test("docs/config.md is up to date with the schema and config/postgres.yaml", async () => {
  const { markdown } = await renderConfigReference();
  await assertUpToDate(outputFile, markdown, "npm run docs:config");
});

test("every key of the schema is listed with its type, default and required-ness", () => {
  const keys = new Map(schemaKeys().map((k) => [k.path, k]));
  assert.deepEqual(
    [...keys.keys()].filter((p) => !p.includes(".") && !p.includes("[")),
    [
      "kafka",
      "target",
      "tables",
      "overlay",
      "apply",
      "onError",
      "deadLetter",
      "masking",
      "decode",
      "http",
      "seed",
      "shutdown",
      "log",
      "schema",
    ],
  );
  const brokers = keys.get("kafka.brokers")!;
  assert.equal(brokers.required, true);
  assert.match(brokers.type, /host:port/);
  assert.deepEqual(
    { type: keys.get("kafka.sessionTimeoutMs")!.type, default: keys.get("kafka.sessionTimeoutMs")!.default },
    { type: "integer ≥ 6000", default: "30000" },
  );
  assert.equal(keys.get("http.port")!.type, "integer ≥ 0, ≤ 65535");
  assert.deepEqual(keys.get("apply.transactional")!.allowed, ["table", "source"]);
  assert.deepEqual(keys.get("target.dialect")!.allowed, ["postgres", "mysql"]);
  assert.equal(keys.get("kafka.ssl.rejectUnauthorized")!.default, "true");
  assert.equal(keys.get("tables[].columns.exclude")!.default, "[]");
  assert.equal(keys.get("overlay")!.default, "each key's default");
  assert.equal(keys.get("http.adminToken")!.required, false, "required only across keys");
  assert.deepEqual(
    { required: keys.get("kafka.sasl.username")!.required, within: keys.get("kafka.sasl.username")!.within },
    { required: true, within: "in `kafka.sasl`" },
  );
  assert.equal(keys.get("tables[].table")!.within, "in each `tables[]`");
  assert.deepEqual(keys.get("tables[].columns.mask.<column>.strategy")!.allowed, [
    "hash",
    "null",
    "redact",
    "constant",
  ]);
  assert.equal(keys.get("tables[].columns.mask.<column>.value")!.within, "with `strategy: constant`");
});

test("a key the schema gains appears in the reference (the staleness test can fail)", () => {
  const yaml = "a:\n  # the b key\n  b: 1\n";
  const before = renderReference(yaml, z.object({ a: z.object({ b: z.number() }) })).markdown;
  const after = renderReference(
    yaml,
    z.object({ a: z.object({ b: z.number(), c: z.string().default("x") }) }),
  ).markdown;
  assert.notEqual(before, after);
  assert.match(after, /^\| `a\.c` \| string \| no \| `x` \| {2}\|$/m);
  assert.match(before, /^\| `a\.b` \| number \| yes \| {2}\| the b key\. \|$/m);
});

test("descriptions: the block above a key, its end-of-line comment, commented-out keys, definitions", () => {
  const schema = z.object({
    kafka: z.object({
      brokers: z.string(),
      ssl: z.object({ ca: z.string().optional(), key: z.string().optional() }).optional(),
      mode: z.enum(["a", "b"]).default("a"),
      topic: z.string().optional(),
    }),
    tables: z.array(z.object({ topic: z.string().optional(), table: z.string() })),
  });
  const yaml = [
    "kafka:",
    "  # Bootstrap brokers.",
    "  # Required.",
    "  brokers: x:1   # host:port",
    "  # TLS, off by default.",
    "  # ssl:",
    "  #   ca: /etc/ca.pem   # the CA",
    "  #   key: /etc/key.pem",
    "  mode: a",
    "  # a: the first mode; ends with",
    "  # mode: b.",
    "",
    "  # topic: t",
    "# Entries.",
    "# table: the target table,",
    "#   qualified",
    "tables:",
    "  - topic: t1",
    "    table: s.t1",
  ].join("\n");
  const found = exampleDescriptions(yaml, schemaKeys(schema));
  // "a: …" names no key of kafka, and "mode: b." repeats a key the example already set: both are
  // prose, which the blank line ends. "# topic: t" is a commented-out key without a comment.
  assert.deepEqual(Object.fromEntries(found), {
    "kafka.brokers": ["Bootstrap brokers. Required. host:port"],
    "kafka.ssl": ["TLS, off by default."],
    "kafka.ssl.ca": ["the CA"],
    tables: ["Entries. table: the target table, qualified"],
    "tables[].table": ["the target table, qualified"],
  });
});
