/** Reading the fixtures recorded from the real stack (test/fixtures/recorded, see its README). */
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { KafkaRecord } from "../../src/decode/index.ts";
import { type RecordedMessage, toRecord } from "../../src/demo/stream.ts";

export { toRecord };

export const recordedDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../fixtures/recorded");

/**
 * The fixtures of Connect's JSON converter, text as on the topic. The Avro ones
 * (`<engine>/avro-confluent/`, `<engine>/avro-apicurio/`, by record-avro.ts) hold base64 bytes
 * and the registry's schemas instead, for the Avro decoder.
 */
export const isJsonFixture = (file: string) => file.endsWith(".json") && !/(^|[\\/])avro-/.test(file);

/** One recorded message: the format is the demo's too, so one reader serves both. */
export type FixtureMessage = RecordedMessage;

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

/** The fixture's records on its own table's topic (control fixtures also hold other topics). */
export function tableRecords(fixture: Fixture): KafkaRecord[] {
  return fixture.messages.filter((m) => m.topic.endsWith(`.${fixture.table}`)).map(toRecord);
}
