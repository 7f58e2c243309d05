/** The overlay commands' own logic: argument checks, the text form of a diff, noise columns by table. */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { test } from "node:test";
import { stringify } from "yaml";
import { entryForTable, parseConfig } from "../../src/config/index.ts";
import { diffText } from "../../src/overlay/diff-text.ts";
import type { TableDiff } from "../../src/target/dialect.ts";

const cli = (...args: string[]) =>
  spawnSync(process.execPath, ["--import", "tsx", "src/cli/main.ts", ...args], { encoding: "utf8" });

test("reset and overlay refuse malformed arguments before touching a database", () => {
  const noTable = cli("reset", "--config", "config/postgres.yaml", "--key", '{"id": 1}');
  assert.equal(noTable.status, 2);
  assert.match(noTable.stderr, /usage: shadowdb reset/);
  const badKey = cli("reset", "--config", "config/postgres.yaml", "--table", "public.t", "--key", "[1]");
  assert.equal(badKey.status, 2);
  assert.match(badKey.stderr, /USAGE_INVALID: key \[1\]: expected an object of key columns/);
  const noAction = cli("overlay", "--config", "config/postgres.yaml");
  assert.equal(noAction.status, 2);
  assert.match(noAction.stderr, /usage: shadowdb overlay install\|uninstall/);
  const badFormat = cli("diff", "--config", "config/postgres.yaml", "--format", "xml");
  assert.equal(badFormat.status, 2);
});

test("the text diff puts one changed column or one whole row per line, aligned", () => {
  const diffs: TableDiff[] = [
    {
      table: { schema: "public", name: "orders" },
      owned: 4,
      rows: [
        { kind: "inserted", key: { id: "9" }, shadow: { id: "9", qty: "1" } },
        {
          kind: "updated",
          key: { id: "5" },
          changed: [
            { column: "qty", production: "3", shadow: "7" },
            { column: "note", production: null, shadow: "rush" },
          ],
        },
        { kind: "deleted", key: { id: "2" }, production: { id: "2", qty: "8" } },
      ],
    },
  ];
  assert.equal(
    diffText(diffs),
    [
      "TABLE          CHANGE    KEY   COLUMN  PRODUCTION            SHADOW",
      'public.orders  inserted  id=9  *                             {"id":"9","qty":"1"}',
      "public.orders  updated   id=5  qty     3                     7",
      "public.orders  updated   id=5  note    NULL                  rush",
      'public.orders  deleted   id=2  *       {"id":"2","qty":"8"}',
      "",
      "3 row(s) differ from production; 4 key(s) owned by the shadow",
    ].join("\n"),
  );
});

test("a table's noise columns come from the entry that writes it, exact or by pattern", () => {
  const config = parseConfig(
    stringify({
      kafka: { brokers: "a:1", groupId: "g" },
      target: { dialect: "postgres", url: "postgres://h/shadow" },
      tables: [
        { topic: "p.public.orders", table: "public.orders", diff: { ignore: ["updated_at"] } },
        { topicPattern: "p\\.public\\.(.+)", table: "public.$1", diff: { ignore: ["touched"] } },
      ],
      http: { port: 0 },
    }),
    "t.yaml",
    {},
  );
  assert.deepEqual(entryForTable(config, { schema: "public", name: "orders" })?.diff.ignore, ["updated_at"]);
  assert.deepEqual(entryForTable(config, { schema: "public", name: "items" })?.diff.ignore, ["touched"]);
  assert.equal(entryForTable(config, { schema: "other", name: "items" }), undefined);
});
