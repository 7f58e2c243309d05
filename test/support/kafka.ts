import { randomUUID } from "node:crypto";
import { type IHeaders, Kafka, logLevel } from "kafkajs";

/** A message as it is on the topic: what the decoder and the fixture recorder both see. */
export interface RawMessage {
  topic: string;
  partition: number;
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: IHeaders;
}

export function kafkaClient(brokers: string): Kafka {
  return new Kafka({ clientId: "shadowdb-test", brokers: brokers.split(","), logLevel: logLevel.NOTHING });
}

/** Waits for a topic Debezium creates on its first event. */
export async function waitForTopic(kafka: Kafka, topic: string, timeoutMs = 60_000): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if ((await admin.listTopics()).includes(topic)) return;
      await new Promise((r) => setTimeout(r, 250));
    }
    throw new Error(`topic ${topic} did not appear within ${timeoutMs / 1000}s`);
  } finally {
    await admin.disconnect();
  }
}

/**
 * Reads `topics` from the beginning with a throw-away group until `done` says the collection is
 * complete, or fails after `timeoutMs` showing how far it got.
 */
export async function collect(
  kafka: Kafka,
  topics: string[],
  done: (messages: RawMessage[]) => boolean,
  timeoutMs = 60_000,
): Promise<RawMessage[]> {
  const consumer = kafka.consumer({ groupId: `shadowdb-test-${randomUUID()}`, maxWaitTimeInMs: 200 });
  const messages: RawMessage[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topics, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        // What came is attached: a caller that waits for duplicates expects the timeout.
        () =>
          reject(
            Object.assign(
              new Error(`collected ${messages.length} messages from ${topics.join(",")}, not done`),
              {
                messages,
              },
            ),
          ),
        timeoutMs,
      );
      consumer
        .run({
          eachMessage: async ({ topic, partition, message }) => {
            messages.push({
              topic,
              partition,
              offset: message.offset,
              key: message.key,
              value: message.value,
              headers: message.headers ?? {},
            });
            if (done(messages)) {
              clearTimeout(timer);
              resolve();
            }
          },
        })
        .catch(reject);
    });
    return messages;
  } finally {
    await consumer.disconnect();
  }
}

export const json = (buffer: Buffer | null): unknown =>
  buffer === null ? null : JSON.parse(buffer.toString("utf8"));
