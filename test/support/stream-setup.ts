/**
 * A streamed transaction's context on the recording fake of our Target interface, with the real
 * TargetTables, Mapper and RecordDecoder on a recorded update batch (the streamed-transaction
 * and stream-driver tests).
 */
import { stringify } from "yaml";
import type { ApplyContext } from "../../src/apply/context.ts";
import type { SetAside } from "../../src/apply/letters.ts";
import { Positions } from "../../src/apply/positions.ts";
import type { KnownShapes } from "../../src/apply/streamed-transaction.ts";
import { prepareItems } from "../../src/batch/items.ts";
import { parseConfig, resolveTable } from "../../src/config/index.ts";
import { RecordDecoder } from "../../src/decode/index.ts";
import { createLogger } from "../../src/log.ts";
import { Mapper } from "../../src/map/mapper.ts";
import { TargetTables } from "../../src/target/tables.ts";
import { FakeTarget, fakeClassify } from "./fake-target.ts";
import { readFixture, tableRecords } from "./fixtures.ts";

export const groupId = "shadowdb-test";

/** `expected`: the position this instance believes the target holds (the fence's expectation). */
export function streamSetup(expected?: string) {
  const fx = readFixture("postgres/default/update.json");
  const records = tableRecords(fx);
  const topic = records[0]!.topic;
  const table = { schema: "public", name: fx.table.split(".")[1]! };
  const config = parseConfig(
    stringify({
      kafka: { brokers: "a:1", groupId },
      target: { dialect: "postgres", url: "postgres://h/shadow" },
      tables: [{ topic, table: `public.${table.name}` }],
      http: { port: 0 },
    }),
    "t.yaml",
    {},
  );
  const mapping = resolveTable(config, topic)!;
  const target = new FakeTarget();
  target.defineTable(table, fx.columns ?? {}, fx.key ?? []);
  const reported: SetAside[] = [];
  // What this instance believes the target holds (the fence's expectation).
  const positions = new Positions();
  if (expected !== undefined) positions.committed(topic, records[0]!.partition, expected);
  const ctx: ApplyContext = {
    target,
    classify: fakeClassify,
    tables: new TargetTables(target, createLogger("silent")),
    groupId,
    mappingFor: (t) => (t === topic ? mapping : undefined),
    onError: "dlq",
    overlay: false,
    positions,
    onDeadLetters: (setAside) => reported.push(...setAside),
  };
  const items = prepareItems(records, new RecordDecoder(), new Mapper(mapping));
  const known: KnownShapes = { columns: new WeakSet(), topics: new Set() };
  return { fx, records, table, target, ctx, items, known, reported, positions };
}
