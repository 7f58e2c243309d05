import assert from "node:assert/strict";
import { test } from "node:test";
import { Health } from "../../src/health/health.ts";

function clock(start = 1_000_000) {
  const c = {
    now: start,
    advance(ms: number) {
      c.now += ms;
    },
  };
  return c;
}

function connected(now: () => number) {
  const health = new Health({ readyLagMs: 30_000, stalledAfterMs: 300_000, now });
  health.kafka("admin", undefined);
  health.target(undefined);
  return health;
}

test("not ready until Kafka and the target have answered and partitions are assigned", () => {
  const c = clock();
  const health = new Health({ readyLagMs: 30_000, stalledAfterMs: 300_000, now: () => c.now });
  assert.deepEqual(health.readyReasons(), [
    "kafka: not connected to Kafka yet",
    "target: the target database has not answered yet",
  ]);
  health.kafka("admin", undefined);
  health.target(undefined);
  assert.deepEqual(health.readyReasons(), ["waiting for a partition assignment"]);
  health.assigned([]);
  assert.deepEqual(health.readyReasons(), [], "a standby with no partitions is ready");
  assert.deepEqual(health.healthReasons(), []);
});

test("each Kafka client's problem is a reason until that client answers again", () => {
  const c = clock();
  const health = connected(() => c.now);
  health.assigned([]);
  health.kafka("consumer", "the consumer restarts after KafkaJSConnectionError: Connection error");
  health.kafka("admin", "no answer within 10 s");
  assert.deepEqual(health.readyReasons(), [
    "kafka: the consumer restarts after KafkaJSConnectionError: Connection error",
    "kafka: no answer within 10 s",
  ]);
  health.kafka("admin", undefined);
  assert.equal(health.readyReasons().length, 1);
  health.kafka("consumer", undefined);
  assert.deepEqual(health.readyReasons(), []);
  assert.deepEqual(health.healthReasons(), [], "outages never make the process unhealthy");
});

test("lag: caught up is ready; behind by more than readyLagMs of source time is not", () => {
  const c = clock();
  const health = connected(() => c.now);
  health.assigned([{ topic: "t", partition: 0 }]);
  health.end("t", 0, 100n);
  assert.deepEqual(health.readyReasons(), ["t[0]: not applied anything yet, 100 records behind"]);
  health.applied("t", 0, c.now - 1000, false);
  health.position("t", 0, 50n);
  assert.deepEqual(health.readyReasons(), [], "1 s behind");
  c.advance(40_000);
  assert.deepEqual(health.readyReasons(), ["t[0]: 41 s behind the source (limit 30 s)"]);
  health.position("t", 0, 100n);
  assert.deepEqual(health.readyReasons(), [], "caught up: no lag, however old the last change");
  assert.deepEqual(health.lagRecords(), new Map([["t[0]", 0n]]));
});

test("a partition whose last applied record is mid-snapshot is loading; its last record ends that", () => {
  const c = clock();
  const health = connected(() => c.now);
  health.assigned([{ topic: "t", partition: 0 }]);
  health.end("t", 0, 10n);
  health.position("t", 0, 10n);
  for (const marker of ["first", "true", "first_in_data_collection"] as const) {
    health.applied("t", 0, c.now, marker);
    assert.deepEqual(health.readyReasons(), ["t[0]: the initial snapshot is still loading"], marker);
  }
  health.applied("t", 0, c.now, "last");
  assert.deepEqual(health.readyReasons(), []);
});

test("an apply running past readyLagMs is a readiness reason, past stalledAfterMs a health one", () => {
  const c = clock();
  const health = connected(() => c.now);
  health.assigned([]);
  health.applying(true);
  c.advance(31_000);
  assert.deepEqual(health.readyReasons(), ["target: an apply has been waiting for 31 s"]);
  assert.deepEqual(health.healthReasons(), []);
  c.advance(300_000);
  assert.deepEqual(health.healthReasons(), ["an apply has been running for 331 s"]);
  health.applying(false);
  assert.deepEqual(health.healthReasons(), []);
  health.failed("APPLY_FAILED: boom");
  assert.deepEqual(health.healthReasons(), ["the materializer stopped: APPLY_FAILED: boom"]);
});

test("a new assignment forgets the partitions this instance no longer owns", () => {
  const c = clock();
  const health = connected(() => c.now);
  health.assigned([
    { topic: "t", partition: 0 },
    { topic: "t", partition: 1 },
  ]);
  health.end("t", 1, 5n);
  assert.equal(health.readyReasons().length, 1);
  health.assigned([{ topic: "t", partition: 0 }]);
  assert.deepEqual(health.readyReasons(), []);
  assert.deepEqual(Object.keys(health.snapshot()), ["t[0]"]);
});
