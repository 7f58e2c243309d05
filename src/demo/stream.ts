/**
 * The demo's production: Debezium messages recorded from the real stack by the fixture recorder
 * (scenario `demo`, test/fixtures/README.md), read back as the records kafkajs would hand over.
 * Key, value and headers are stored as the UTF-8 text of their bytes.
 */
import { readFile } from "node:fs/promises";
import type { KafkaRecord } from "../decode/index.ts";
import { ShadowdbError } from "../errors.ts";

/** One message as the fixture recorder stores it (test/support/fixtures.ts reads the same format). */
export interface RecordedMessage {
  topic: string;
  partition: number;
  offset: string;
  key: string | null;
  value: string | null;
  headers: { key: string; value: string | null }[];
}

/** Resolved from this file, so it holds for src/ run through tsx and for dist/ alike. */
const recordedDir = new URL("../../test/fixtures/recorded/postgres/default/", import.meta.url);

/** A recorded message as kafkajs hands it over. */
export function toRecord(m: RecordedMessage): KafkaRecord {
  const bytes = (text: string | null) => (text === null ? null : Buffer.from(text, "utf8"));
  // kafkajs hands over one Buffer per header, and an array only for a repeated key.
  const headers: Record<string, Buffer | Buffer[]> = {};
  for (const h of m.headers) {
    if (h.value === null) continue;
    const value = Buffer.from(h.value, "utf8");
    const seen = headers[h.key];
    headers[h.key] = seen === undefined ? value : [seen, value].flat();
  }
  return {
    topic: m.topic,
    partition: m.partition,
    offset: m.offset,
    key: bytes(m.key),
    value: bytes(m.value),
    headers,
  };
}

/** Every recorded message, topic after topic, each topic in offset order. */
export async function readDemoStream(): Promise<KafkaRecord[]> {
  const file = new URL("demo.json", recordedDir);
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    // A checkout has it, and package.json "files" ships it; a trimmed install may not.
    throw new ShadowdbError(
      "DEMO_STREAM_UNREADABLE",
      `the demo's recorded stream ${file.pathname} cannot be read (${(error as Error).message})`,
      {
        cause: error,
      },
    );
  }
  // The file's own JSON has no large numbers; the message texts inside stay strings.
  const { messages } = JSON.parse(text) as { messages: RecordedMessage[] };
  return messages.map(toRecord);
}
