/** Reading the fixtures recorded from the real stack (test/fixtures/recorded, see its README). */
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { KafkaRecord } from "../../src/decode/index.ts";

export const recordedDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../fixtures/recorded");

export interface FixtureMessage {
  topic: string;
  partition: number;
  offset: string;
  key: string | null;
  value: string | null;
  headers: { key: string; value: string | null }[];
}

export interface Fixture {
  engine: "postgres" | "mariadb";
  mode: string;
  table: string;
  columns?: Record<string, string>;
  key?: string[];
  sourceRows?: Record<string, string | null>[];
  messages: FixtureMessage[];
}

/** `file` relative to test/fixtures/recorded, e.g. "postgres/default/update.json". */
export function readFixture(file: string): Fixture {
  return JSON.parse(readFileSync(path.join(recordedDir, file), "utf8")) as Fixture;
}

/** A recorded message as kafkajs hands it over. */
export function toRecord(m: FixtureMessage): KafkaRecord {
  return {
    topic: m.topic,
    partition: m.partition,
    offset: m.offset,
    key: m.key === null ? null : Buffer.from(m.key),
    value: m.value === null ? null : Buffer.from(m.value),
    headers: Object.fromEntries(m.headers.map((h) => [h.key, h.value ?? undefined])),
  };
}

/** The fixture's records on its own table's topic (control fixtures also hold other topics). */
export function tableRecords(fixture: Fixture): KafkaRecord[] {
  return fixture.messages.filter((m) => m.topic.endsWith(`.${fixture.table}`)).map(toRecord);
}
