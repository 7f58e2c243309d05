/**
 * The Kafka side of a resync: the cluster's topics and end offsets, the signal sent, and the
 * notification topic read from a given offset. The notification reader is a consumer of a group
 * of its own that commits nothing, so it leaves no position behind and never joins run's group.
 */
import { randomUUID } from "node:crypto";
import type { Admin, Consumer, Kafka } from "kafkajs";
import type { SignalMessage } from "./signal.ts";

export interface ResyncKafka {
  listTopics(): Promise<string[]>;
  /** The next offset of each partition of `topic`. */
  endOffsets(topic: string): Promise<{ partition: number; offset: string }[]>;
  send(topic: string, message: SignalMessage): Promise<void>;
  /**
   * Hands each record value of `topic` from `offsets` on to `onValue` until it returns true;
   * rejects when `signal` aborts first.
   */
  watch(
    topic: string,
    offsets: { partition: number; offset: string }[],
    onValue: (value: Buffer | null) => boolean,
    signal: AbortSignal,
  ): Promise<void>;
  close(): Promise<void>;
}

export function resyncKafka(kafka: Kafka, admin: Admin, groupPrefix: string): ResyncKafka {
  const consumers: Consumer[] = [];
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  let producing: Promise<void> | undefined;
  return {
    listTopics: () => admin.listTopics(),
    async endOffsets(topic) {
      return (await admin.fetchTopicOffsets(topic)).map((p) => ({ partition: p.partition, offset: p.high }));
    },
    async send(topic, message) {
      producing ??= producer.connect();
      await producing;
      await producer.send({ topic, acks: -1, messages: [{ key: message.key, value: message.value }] });
    },
    async watch(topic, offsets, onValue, signal) {
      const consumer = kafka.consumer({ groupId: `${groupPrefix}-resync-${randomUUID()}` });
      consumers.push(consumer);
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      await new Promise<void>((resolve, reject) => {
        const abort = () => reject(signal.reason);
        if (signal.aborted) return abort();
        signal.addEventListener("abort", abort, { once: true });
        consumer
          .run({
            autoCommit: false,
            eachMessage: async ({ message }) => {
              if (onValue(message.value)) {
                signal.removeEventListener("abort", abort);
                resolve();
              }
            },
          })
          .then(() => {
            for (const { partition, offset } of offsets) consumer.seek({ topic, partition, offset });
          }, reject);
      });
    },
    async close() {
      for (const consumer of consumers) await consumer.disconnect().catch(() => undefined);
      if (producing) await producer.disconnect().catch(() => undefined);
    },
  };
}
