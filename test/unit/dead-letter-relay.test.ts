/** DeadLetterRelay over the fake target's outbox and a fake producer that refuses as Kafka does. */
import assert from "node:assert/strict";
import { test } from "node:test";
import kafkajs, { type Message, type Producer } from "kafkajs";
import { DeadLetterRelay } from "../../src/apply/dead-letter-relay.ts";
import type { DeadLetter } from "../../src/target/dialect.ts";
import { FakeTarget } from "../support/fake-target.ts";

// kafkajs is CommonJS: its error classes are not named exports Node can find.
const { KafkaJSConnectionError, KafkaJSNonRetriableError, KafkaJSProtocolError } = kafkajs;
const groupId = "g";

function letter(offset: number, value: Buffer | null, message = `bad ${offset}`): DeadLetter {
  return {
    topic: "src",
    partition: 0,
    offset: String(offset),
    key: Buffer.from([0, offset]),
    value,
    code: "DECODE_MALFORMED_JSON",
    message,
  };
}

async function outbox(letters: DeadLetter[]): Promise<FakeTarget> {
  const target = new FakeTarget();
  await target.transaction((tx) => tx.saveDeadLetters(groupId, letters));
  return target;
}

/** Takes what a topic with max.message.bytes `max` takes; whole requests fail, as a batch does. */
function fakeProducer(max: number, failure?: () => Error | undefined) {
  const sent: Message[] = [];
  const producer = {
    send: async ({ messages }: { topic: string; messages: Message[] }) => {
      const down = failure?.();
      if (down) throw down;
      if (messages.some((m) => ((m.value as Buffer | null)?.length ?? 0) > max)) {
        const refused = new KafkaJSProtocolError({
          type: "MESSAGE_TOO_LARGE",
          code: 10,
          retriable: false,
          message: "The request included a message larger than the max message size the server will accept",
        } as unknown as Error);
        // As kafkajs's retrier wraps it: the protocol error is the cause.
        throw Object.assign(new KafkaJSNonRetriableError(refused), { cause: refused });
      }
      for (const m of messages) sent.push(m);
      return [];
    },
  } as unknown as Producer;
  return { producer, sent };
}

const header = (m: Message, name: string) => (m.headers?.[name] as string | undefined) ?? null;

test("letters go as their bytes, with the error and the coordinates in headers; the outbox is emptied", async () => {
  const value = Buffer.from([0, 0, 0, 0, 1, 0xff, 0xfe]);
  const target = await outbox([letter(1, value, "field q\ud800ty"), letter(2, null)]);
  const { producer, sent } = fakeProducer(1000);
  const relay = new DeadLetterRelay({ target, producer, topic: "dlq", groupId });
  assert.equal(await relay.flush(), 2);
  assert.deepEqual(sent[0]!.value, value);
  assert.deepEqual(sent[0]!.key, Buffer.from([0, 1]));
  assert.equal(sent[1]!.value, null);
  assert.equal(header(sent[0]!, "shadowdb.error.message"), "field q\\ud800ty", "as the table would hold it");
  assert.equal(header(sent[0]!, "shadowdb.source.offset"), "1");
  assert.equal(header(sent[0]!, "shadowdb.record.dropped"), null);
  assert.equal(await target.countDeadLetters(groupId), 0);
});

test("a letter its topic refuses for good goes without key and value, saying so; the others follow it", async () => {
  const target = await outbox([
    letter(1, Buffer.alloc(10)),
    letter(2, Buffer.alloc(5000)),
    letter(3, Buffer.alloc(10)),
  ]);
  const { producer, sent } = fakeProducer(1000);
  const relay = new DeadLetterRelay({ target, producer, topic: "dlq", groupId });
  assert.equal(await relay.flush(), 3);
  assert.deepEqual(
    sent.map((m) => [header(m, "shadowdb.source.offset"), (m.value as Buffer | null)?.length ?? null]),
    [
      ["1", 10],
      ["2", null],
      ["3", 10],
    ],
  );
  assert.equal(sent[1]!.key, null);
  assert.equal(
    header(sent[1]!, "shadowdb.record.dropped"),
    "MESSAGE_TOO_LARGE: key 2 bytes, value 5000 bytes",
  );
  assert.equal(header(sent[1]!, "shadowdb.error.code"), "DECODE_MALFORMED_JSON");
  assert.equal(await target.countDeadLetters(groupId), 0);
});

test("Kafka away: the send fails and the letters stay in the outbox", async () => {
  const target = await outbox([letter(1, Buffer.alloc(10))]);
  const { producer, sent } = fakeProducer(
    1000,
    () => new KafkaJSConnectionError("Connection error: ECONNREFUSED"),
  );
  const relay = new DeadLetterRelay({ target, producer, topic: "dlq", groupId });
  await assert.rejects(relay.flush(), /ECONNREFUSED/);
  assert.deepEqual(sent, []);
  assert.equal(await target.countDeadLetters(groupId), 1);
});
