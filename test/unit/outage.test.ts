import assert from "node:assert/strict";
import { test } from "node:test";
import kafkajs from "kafkajs";
import { ShadowdbError } from "../../src/errors.ts";
import { kafkaOutage, NoAnswer, originalCause, within } from "../../src/health/outage.ts";

// kafkajs is CommonJS; its typings give the wrapper one parameter, the runtime takes a cause too.
const { KafkaJSConnectionError } = kafkajs;
const wrapped = (cause: Error) =>
  new (kafkajs.KafkaJSNonRetriableError as unknown as new (e: Error, m: { cause: Error }) => Error)(cause, {
    cause,
  });

test("a Kafka client error is an outage, bare or wrapped by kafkajs", () => {
  const refused = new KafkaJSConnectionError("Connection error: connect ECONNREFUSED 127.0.0.1:19092");
  assert.equal(kafkaOutage(refused), true);
  assert.equal(kafkaOutage(wrapped(refused)), true);
});

test("our own error that kafkajs wrapped on its way out of eachBatch is not an outage (onError: stop)", () => {
  const bad = new ShadowdbError("DECODE_MALFORMED_JSON", "value is not valid JSON");
  assert.equal(kafkaOutage(wrapped(bad)), false);
  assert.equal(originalCause(wrapped(bad)), bad);
  assert.equal(kafkaOutage(new TypeError("a bug")), false);
});

test("within: the answer when it comes in time, a NoAnswer when it does not", async () => {
  assert.equal(await within(1000, Promise.resolve(7)), 7);
  const never = new Promise<number>(() => undefined);
  await assert.rejects(within(20, never), (error: unknown) => error instanceof NoAnswer);
});
