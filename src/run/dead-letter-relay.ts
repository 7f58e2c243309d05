/**
 * The Kafka topic dead-letter store, fed from an outbox table in the target. Letters are written
 * there in the same transaction as the positions they move past, so retries and the record-by-
 * record fallback can never send one twice; the relay sends them on and then removes them. A
 * crash between the send and the removal repeats a letter once: its headers carry the source
 * coordinates, which identify it.
 */
import type { Producer } from "kafkajs";
import type { Target } from "../target/dialect.ts";

export interface DeadLetterRelayOptions {
  target: Target;
  producer: Producer;
  topic: string;
  groupId: string;
}

const CHUNK = 500;

export class DeadLetterRelay {
  constructor(private readonly options: DeadLetterRelayOptions) {}

  /** Sends every stored letter; returns how many were sent. Failures leave them stored. */
  async flush(): Promise<number> {
    const { target, producer, topic, groupId } = this.options;
    let sent = 0;
    for (;;) {
      const letters = await target.storedDeadLetters(groupId, CHUNK);
      if (letters.length === 0) return sent;
      await producer.send({
        topic,
        messages: letters.map((l) => ({
          key: l.key,
          value: l.value,
          headers: {
            "shadowdb.error.code": l.code,
            "shadowdb.error.message": l.message,
            "shadowdb.source.topic": l.topic,
            "shadowdb.source.partition": String(l.partition),
            "shadowdb.source.offset": l.offset,
          },
        })),
      });
      await target.removeDeadLetters(letters.map((l) => l.id));
      sent += letters.length;
    }
  }
}
