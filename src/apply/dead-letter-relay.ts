/**
 * The Kafka topic dead-letter store, fed from an outbox table in the target. Letters are written
 * there in the same transaction as the positions they move past, so retries and the record-by-
 * record fallback can never send one twice; the relay sends them on and then removes them. A
 * crash between the send and the removal repeats a letter once: its headers carry the source
 * coordinates, which identify it.
 *
 * Key and value go as the bytes they were; the error's text is a header (UTF-8), made storable
 * as in the table (src/target/dead-letter-text.ts). A record the topic refuses for good (larger
 * than its max.message.bytes, say) is sent without its key and value, with a header saying so:
 * otherwise it would stay in the outbox, and every letter after it with it.
 */
import type { Message, Producer } from "kafkajs";
import { storableText } from "../target/dead-letter-text.ts";
import type { DeadLetterOutbox, StoredDeadLetter } from "../target/dialect.ts";

export interface DeadLetterRelayOptions {
  target: DeadLetterOutbox;
  producer: Producer;
  topic: string;
  groupId: string;
}

const CHUNK = 500;

/** Broker refusals of the records themselves (kafkajs protocol error types): waiting won't help. */
const REFUSALS = new Set(["MESSAGE_TOO_LARGE", "RECORD_LIST_TOO_LARGE", "INVALID_RECORD"]);

/** The refusal type in kafkajs's error or what it wraps (a non-retriable error keeps its cause). */
function refusal(error: unknown): string | undefined {
  let at: unknown = error;
  for (let depth = 0; at && depth < 4; depth++) {
    const type = (at as { type?: unknown }).type;
    if (typeof type === "string" && REFUSALS.has(type)) return type;
    at =
      (at as { cause?: unknown; originalError?: unknown }).cause ??
      (at as { originalError?: unknown }).originalError;
  }
  return undefined;
}

function message(letter: StoredDeadLetter, refused?: string): Message {
  const headers: Record<string, string> = {
    "shadowdb.error.code": letter.code,
    "shadowdb.error.message": storableText(letter.message),
    "shadowdb.source.topic": letter.topic,
    "shadowdb.source.partition": String(letter.partition),
    "shadowdb.source.offset": letter.offset,
  };
  if (refused === undefined) return { key: letter.key, value: letter.value, headers };
  headers["shadowdb.record.dropped"] =
    `${refused}: key ${letter.key?.length ?? "null"} bytes, value ${letter.value?.length ?? "null"} bytes`;
  return { key: null, value: null, headers };
}

export class DeadLetterRelay {
  constructor(private readonly options: DeadLetterRelayOptions) {}

  /** Sends every stored letter; returns how many were sent. Failures leave them stored. */
  async flush(): Promise<number> {
    const { target, producer, topic, groupId } = this.options;
    let sent = 0;
    for (;;) {
      const letters = await target.storedDeadLetters(groupId, CHUNK);
      if (letters.length === 0) return sent;
      try {
        await producer.send({ topic, messages: letters.map((l) => message(l)) });
      } catch (error) {
        if (refusal(error) === undefined) throw error;
        // Some record of the chunk is refused: one at a time, each refused one without its bytes.
        // Letters of the chunk the broker took already are sent again (their headers tell).
        for (const letter of letters) await this.sendOne(letter);
      }
      await target.removeDeadLetters(letters.map((l) => l.id));
      sent += letters.length;
    }
  }

  private async sendOne(letter: StoredDeadLetter): Promise<void> {
    const { producer, topic } = this.options;
    try {
      await producer.send({ topic, messages: [message(letter)] });
    } catch (error) {
      const refused = refusal(error);
      if (refused === undefined) throw error;
      await producer.send({ topic, messages: [message(letter, refused)] });
    }
  }
}
