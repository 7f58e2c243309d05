/**
 * prepareSliced (what `run` does with each fetch) lets the event loop turn while it
 * decodes big records: a timer keeps firing, and no turn is held anywhere near the second after
 * which /healthz would look dead. 30 records, each with the largest decimal PostgreSQL holds.
 */
import assert from "node:assert/strict";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { test } from "node:test";
import { decoderFor, prepareSliced } from "../../src/batch/prepare.ts";
import { parseConfig, resolveTable } from "../../src/config/index.ts";
import { MAX_FRACTION_DIGITS, MAX_INTEGER_DIGITS } from "../../src/decode/limits.ts";
import { Mapper } from "../../src/map/mapper.ts";
import { base, edited, unscaledBase64 } from "../support/hostile.ts";

test("prepare decodes 30 records of the largest decimals in turns, none held for a second", async () => {
  const config = parseConfig(
    JSON.stringify({
      kafka: { brokers: "127.0.0.1:1", groupId: "slices" },
      target: { dialect: "postgres", url: "postgres://127.0.0.1/shadow" },
      tables: [{ topic: base.topic, table: "public.fx_alltypes" }],
      http: { port: 0 },
    }),
    "slices.yaml",
    {},
  );
  // As the materializer builds them from the config.
  const decoder = decoderFor(config);
  const mapper = new Mapper(resolveTable(config, base.topic)!, config.masking.key);
  const largest = {
    scale: MAX_FRACTION_DIGITS,
    value: unscaledBase64(10n ** BigInt(MAX_INTEGER_DIGITS + MAX_FRACTION_DIGITS) - 1n),
  };
  const record = edited((v) => (v.payload.after.c_numeric = largest));
  const records = Array.from({ length: 30 }, (_, i) => ({ ...record, offset: String(i) }));

  const histogram = monitorEventLoopDelay({ resolution: 1 });
  histogram.enable();
  let ticks = 0;
  const timer = setInterval(() => ticks++, 1);
  await new Promise((resolve) => setTimeout(resolve, 5));
  const before = ticks;
  const items = await prepareSliced(records, decoder, mapper);
  const during = ticks - before;
  await new Promise((resolve) => setTimeout(resolve, 5));
  clearInterval(timer);
  histogram.disable();

  assert.equal(items.length, 30);
  assert.ok(
    items.every((i) => i.change?.kind === "upsert" && String(i.change.row.c_numeric).length === 147_456),
  );
  // Each record takes tens of ms: decoded in one turn, the timer would have fired once at most.
  assert.ok(during >= 5, `the loop turned ${during} times while 30 records decoded`);
  const longestMs = histogram.max / 1e6;
  assert.ok(longestMs < 1000, `the loop was held for ${longestMs.toFixed(0)} ms`);
});
