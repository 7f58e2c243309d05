import assert from "node:assert/strict";
import { test } from "node:test";
import { stringify } from "yaml";
import {
  isIdentifier,
  parseConfig,
  parseTableName,
  resolveTable,
  topicSubscriptions,
} from "../../src/config/index.ts";
import { isShadowdbError } from "../../src/errors.ts";

function config(tables: Record<string, unknown>[], dialect = "postgres") {
  const url = dialect === "postgres" ? "postgres://h/shadow" : "mysql://root@h/shadow";
  return parseConfig(
    stringify({
      kafka: { brokers: "a:1", groupId: "g" },
      target: { dialect, url },
      tables,
      http: { port: 0 },
    }),
    "t.yaml",
    {},
  );
}

test("identifiers: a letter or _, then letters, digits, _ or $; at most 63 characters", () => {
  for (const good of ["a", "_", "Orders", "t_1", "price$", `a${"b".repeat(62)}`])
    assert.ok(isIdentifier(good), good);
  for (const bad of ["", "1a", "$a", "a-b", "a b", 'a"b', "a.b", "é", `a${"b".repeat(63)}`, "a;drop"]) {
    assert.ok(!isIdentifier(bad), bad);
  }
  assert.deepEqual(parseTableName("public.orders"), { schema: "public", name: "orders" });
  assert.equal(parseTableName("orders"), undefined);
  assert.equal(parseTableName("a.b.c"), undefined);
  assert.equal(parseTableName("public.or-ders"), undefined);
});

test("an exact topic maps to its table with its column rules", () => {
  const c = config([
    {
      topic: "pgprod.public.customers",
      table: "public.clients",
      key: ["id"],
      columns: { exclude: ["notes"], rename: { fullname: "full_name" } },
      diff: { ignore: ["updated_at"] },
    },
  ]);
  assert.deepEqual(resolveTable(c, "pgprod.public.customers"), {
    entry: 0,
    table: { schema: "public", name: "clients" },
    key: ["id"],
    envelope: "debezium",
    columns: { exclude: ["notes"], rename: { fullname: "full_name" }, mask: {} },
    diff: { ignore: ["updated_at"] },
  });
  assert.equal(resolveTable(c, "pgprod.public.orders"), undefined);
  assert.equal("key" in (resolveTable(config([{ topic: "t", table: "s.t" }]), "t") ?? {}), false);
});

test("a pattern substitutes its groups into the table", () => {
  const c = config([{ topicPattern: "^pgprod\\.public\\.(.+)$", table: "public.$1" }]);
  assert.deepEqual(resolveTable(c, "pgprod.public.orders")?.table, { schema: "public", name: "orders" });
  assert.deepEqual(resolveTable(c, "pgprod.public.order_items")?.table, {
    schema: "public",
    name: "order_items",
  });
  assert.equal(resolveTable(c, "pgprod.transaction"), undefined);
  assert.equal(resolveTable(c, "myprod.prod.orders"), undefined);

  const two = config([{ topicPattern: "^(\\w+)\\.(\\w+)\\.(\\w+)$", table: "$2_copy.$3" }]);
  assert.deepEqual(resolveTable(two, "pgprod.sales.orders")?.table, { schema: "sales_copy", name: "orders" });

  const whole = config([{ topicPattern: "^pgprod\\.(\\w+\\.\\w+)$", table: "$1" }]);
  assert.deepEqual(resolveTable(whole, "pgprod.public.orders")?.table, { schema: "public", name: "orders" });

  const dollar = config([{ topicPattern: "^p\\.(\\w+)$", table: "public.$1$$x" }]);
  assert.deepEqual(resolveTable(dollar, "p.t")?.table, { schema: "public", name: "t$x" });
});

test("a pattern must match the whole topic name", () => {
  const c = config([{ topicPattern: "pgprod\\.public\\.(order)", table: "public.$1" }]);
  assert.deepEqual(resolveTable(c, "pgprod.public.order")?.table, { schema: "public", name: "order" });
  assert.equal(resolveTable(c, "pgprod.public.orders"), undefined);
  assert.equal(resolveTable(c, "x.pgprod.public.order"), undefined);
});

test("an exact topic beats a pattern wherever it is listed; among patterns the first wins", () => {
  const c = config([
    { topicPattern: "^pgprod\\.public\\.(.+)$", table: "public.$1" },
    { topicPattern: "^pgprod\\.(.+)\\.(.+)$", table: "$1.$2_other" },
    { topic: "pgprod.public.orders", table: "archive.orders" },
  ]);
  assert.deepEqual(resolveTable(c, "pgprod.public.orders")?.table, { schema: "archive", name: "orders" });
  assert.equal(resolveTable(c, "pgprod.public.orders")?.entry, 2);
  assert.deepEqual(resolveTable(c, "pgprod.public.items")?.table, { schema: "public", name: "items" });
  assert.deepEqual(resolveTable(c, "pgprod.sales.items")?.table, { schema: "sales", name: "items_other" });
});

test("answers are stable: the same mapping object for the same topic", () => {
  const c = config([{ topicPattern: "^p\\.(.+)$", table: "public.$1" }]);
  assert.equal(resolveTable(c, "p.a"), resolveTable(c, "p.a"));
  assert.equal(resolveTable(c, "q.a"), undefined);
  assert.equal(resolveTable(c, "q.a"), undefined);
});

test("a substituted name that is not two identifiers is CONFIG_INVALID naming entry, topic and result", () => {
  const c = config([{ topicPattern: "^myprod\\.prod\\.(.+)$", table: "shadow.$1" }], "mysql");
  for (const [topic, name] of [
    ["myprod.prod.order-items", "shadow.order-items"],
    ["myprod.prod.a.b", "shadow.a.b"],
  ] as const) {
    assert.throws(
      () => resolveTable(c, topic),
      (error: unknown) => {
        assert.ok(isShadowdbError(error, "CONFIG_INVALID"), String(error));
        assert.match(error.message, /^tables\[0\]\.table: /);
        assert.ok(error.message.includes(`topic "${topic}" gives "${name}"`), error.message);
        assert.match(error.message, /expected "database\.table"/);
        return true;
      },
    );
  }
  const optional = config([{ topicPattern: "^p\\.(x)?(\\w+)$", table: "s$1.$2" }]);
  assert.deepEqual(resolveTable(optional, "p.t")?.table, { schema: "s", name: "t" });
});

test("topicSubscriptions: exact topics and whole-name patterns, as resolveTable sees them", () => {
  const c = config([
    { topicPattern: "pgprod\\.public\\.(.+)", table: "public.$1" },
    { topic: "pgprod.sales.orders", table: "sales.orders" },
  ]);
  const subscriptions = topicSubscriptions(c);
  assert.equal(subscriptions[0], "pgprod.sales.orders");
  const pattern = subscriptions[1];
  assert.ok(pattern instanceof RegExp);
  assert.ok(pattern.test("pgprod.public.orders"));
  assert.ok(!pattern.test("x.pgprod.public.orders"));
});
