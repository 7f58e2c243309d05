/**
 * The seed's plan (what it loads, what it refuses before touching anything) and the order of its
 * steps, with fakes of our own interfaces: end offsets are read before the snapshot opens.
 */
import assert from "node:assert/strict";
import { Readable } from "node:stream";
import { test } from "node:test";
import { stringify } from "yaml";
import { parseConfig } from "../../src/config/index.ts";
import { isShadowdbError } from "../../src/errors.ts";
import { createLogger } from "../../src/log.ts";
import { planColumns, renamedShape, seedTopics, sourceOfTopic } from "../../src/seed/plan.ts";
import { type SeedOptions, seed } from "../../src/seed/seed.ts";
import type {
  Position,
  QualifiedName,
  SeedLoad,
  SeedSource,
  SeedTarget,
  TableShape,
} from "../../src/target/dialect.ts";

const config = (tables: unknown[], extra: Record<string, unknown> = {}) =>
  parseConfig(
    stringify({
      kafka: { brokers: "127.0.0.1:19092", groupId: "g" },
      target: { dialect: "postgres", url: "postgresql://postgres@127.0.0.1:5432/shadow" },
      tables,
      seed: { source: { url: "postgresql://reader:s3cret@prod:5432/app" } },
      http: { port: 0 },
      ...extra,
    }),
    "t.yaml",
    {},
  );

const shape = (name: QualifiedName, columns: string[], key = ["id"]): TableShape => ({
  name,
  columns: new Map(columns.map((c) => [c, { name: c, sqlType: "text", nullable: !key.includes(c) }])),
  primaryKey: key,
});

const refusal = (work: () => unknown, code: string, pattern: RegExp) =>
  assert.throws(
    work,
    (error: unknown) => isShadowdbError(error) && error.code === code && pattern.test(error.message),
  );

test("the production table is the topic's last two parts", () => {
  assert.deepEqual(sourceOfTopic("pgprod.public.orders"), { schema: "public", name: "orders" });
  assert.deepEqual(sourceOfTopic("a.b.inventory.items"), { schema: "inventory", name: "items" });
  assert.equal(sourceOfTopic("orders"), undefined);
  assert.equal(sourceOfTopic("pgprod..orders"), undefined);
});

test("topics: existing ones a mapping covers, and exact topics not created yet", () => {
  const c = config([
    { topicPattern: "^pgprod\\.public\\.(.+)$", table: "public.$1" },
    { topic: "pgprod.sales.quiet", table: "public.quiet" },
  ]);
  const topics = seedTopics(c, ["pgprod.public.a", "other.public.b", "pgprod.public.c"]);
  assert.deepEqual(
    topics.map((t) => [t.topic, t.exists, `${t.source.schema}.${t.source.name}`, t.mapping.table.name]),
    [
      ["pgprod.public.a", true, "public.a", "a"],
      ["pgprod.public.c", true, "public.c", "c"],
      ["pgprod.sales.quiet", false, "sales.quiet", "quiet"],
    ],
  );
  assert.deepEqual(
    seedTopics(c, ["pgprod.public.a", "pgprod.public.c"], "public.c").map((t) => t.topic),
    ["pgprod.public.c"],
  );
  refusal(() => seedTopics(c, [], "public.nope"), "USAGE_INVALID", /no mapped topic feeds public\.nope/);
});

test("refused before anything is read: masks, two topics into one table, source mode", () => {
  refusal(
    () =>
      seedTopics(
        config([
          {
            topic: "p.public.users",
            table: "public.users",
            columns: { mask: { email: { strategy: "null" } } },
          },
        ]),
        [],
      ),
    "SEED_UNSUPPORTED",
    /public\.users masks email/,
  );
  refusal(
    () =>
      seedTopics(config([{ topicPattern: "^p\\.s[12]\\.orders$", table: "public.orders" }]), [
        "p.s1.orders",
        "p.s2.orders",
      ]),
    "SEED_UNSUPPORTED",
    /both feed public\.orders/,
  );
  refusal(
    () =>
      seedTopics(
        config([{ topic: "p.public.t", table: "public.t" }], {
          apply: { transactional: "source", transactionTopic: "p.transaction" },
        }),
        [],
      ),
    "SEED_UNSUPPORTED",
    /transactional is source/,
  );
});

test("columns: excluded left out, renamed renamed, those the target lacks skipped", () => {
  const c = config([
    { topic: "p.public.t", table: "public.t", columns: { exclude: ["secret"], rename: { note: "remark" } } },
  ]);
  const [t] = seedTopics(c, ["p.public.t"]);
  const source = shape({ schema: "public", name: "t" }, ["id", "note", "secret", "gone"]);
  const created = renamedShape(source, t!.mapping, t!.mapping.table);
  assert.deepEqual([...created.columns.keys()], ["id", "remark", "gone"]);
  const migrated = shape(t!.mapping.table, ["id", "remark", "added"]);
  assert.deepEqual(planColumns(source, migrated, t!.mapping), {
    pairs: [
      { source: "id", target: "id" },
      { source: "note", target: "remark" },
    ],
    skipped: ["gone"],
  });
});

test("seed config: the source URL has the target's dialect, and its password never shows", () => {
  assert.throws(
    () =>
      parseConfig(
        stringify({
          kafka: { brokers: "127.0.0.1:19092", groupId: "g" },
          target: { dialect: "postgres", url: "postgresql://postgres@127.0.0.1:5432/shadow" },
          tables: [{ topic: "p.public.t", table: "public.t" }],
          seed: { source: { url: "mysql://reader:s3cret@prod/app" } },
          http: { port: 0 },
        }),
        "t.yaml",
        {},
      ),
    (error: unknown) =>
      isShadowdbError(error, "CONFIG_INVALID") &&
      /seed\.source\.url/.test(error.message) &&
      !error.message.includes("s3cret"),
  );
});

/** Fakes of our own interfaces that write down the order of what the seed does. */
function fakes(opts: { capture?: string; storedTopics?: string[]; sourceTables?: string[] } = {}) {
  const calls: string[] = [];
  const loads: SeedLoad[] = [];
  const source: SeedSource = {
    captureProblem: async () => {
      calls.push("captureProblem");
      return opts.capture;
    },
    begin: async () => void calls.push("begin"),
    describe: async (name) =>
      (opts.sourceTables ?? ["t"]).includes(name.name) ? shape(name, ["id", "v"]) : undefined,
    rows: () => Readable.from(["1\ta\n"]),
    close: async () => undefined,
  };
  const tables = new Map<string, TableShape>();
  const target: SeedOptions["target"] = {
    prepare: async () => undefined,
    close: async () => undefined,
    readPositions: async (): Promise<Position[]> =>
      (opts.storedTopics ?? []).map((topic) => ({ topic, partition: 0, offset: "5" })),
    describe: async (name: QualifiedName) => tables.get(name.name),
  };
  const seedTarget: SeedTarget = {
    createTableLike: async (name, s) => {
      calls.push(`create ${name.name}`);
      tables.set(name.name, s);
    },
    seed: async (load) => {
      calls.push(`load ${load.table.name}`);
      loads.push(load);
      return 1;
    },
  };
  return {
    calls,
    loads,
    options: {
      target,
      seedTarget,
      source,
      listTopics: async () => ["p.public.t"],
      endOffsets: async (topic: string) => {
        calls.push(`ends ${topic}`);
        return [{ partition: 0, offset: "42" }];
      },
      log: createLogger("silent"),
    },
  };
}

test("seed: end offsets before the snapshot, stored with the load; a seeded topic is skipped", async () => {
  const c = config([{ topic: "p.public.t", table: "public.t" }]);
  const f = fakes();
  const [report] = await seed({ config: c, ...f.options });
  assert.deepEqual(f.calls, ["captureProblem", "ends p.public.t", "begin", "create t", "load t"]);
  assert.deepEqual(f.loads[0]!.positions, [{ topic: "p.public.t", partition: 0, offset: "42" }]);
  assert.deepEqual(f.loads[0]!.columns, ["id", "v"]);
  assert.equal(report!.outcome, "loaded");

  const again = fakes({ storedTopics: ["p.public.t"] });
  const [skipped] = await seed({ config: c, ...again.options });
  assert.equal(skipped!.outcome, "skipped");
  assert.deepEqual(again.loads, []);
});

test("seed: no change stream, or no such production table, is an error and loads nothing", async () => {
  const c = config([{ topic: "p.public.t", table: "public.t" }]);
  const noSlot = fakes({ capture: "no slot" });
  await assert.rejects(seed({ config: c, ...noSlot.options }), (e: unknown) =>
    isShadowdbError(e, "SEED_NO_CAPTURE"),
  );
  assert.deepEqual(noSlot.calls, ["captureProblem"]);
  const missing = fakes({ sourceTables: [] });
  await assert.rejects(seed({ config: c, ...missing.options }), (e: unknown) =>
    isShadowdbError(e, "SEED_SOURCE_MISSING"),
  );
  assert.deepEqual(missing.loads, []);
});
