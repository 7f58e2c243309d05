/**
 * bench/decode-stall: the longest the event loop is held while `run` decodes a fetch of 30
 * records of the worst size decoding allows, measured with perf_hooks' monitorEventLoopDelay
 * around prepareSliced (what `run` calls per fetch; nothing else runs). Also shown:
 * the same records decoded in one turn, as prepare did when only the record count ended a slice.
 * Prints a table; `tsx bench/decode-stall.ts`. Figures of 2026-12-07 (2 shared cores) are in
 * docs/decoding.md.
 */
import { monitorEventLoopDelay } from "node:perf_hooks";
import { setImmediate as turn } from "node:timers/promises";
import { prepareItems } from "../src/batch/items.ts";
import { decoderFor, prepareSliced } from "../src/batch/prepare.ts";
import { parseConfig, resolveTable } from "../src/config/index.ts";
import type { KafkaRecord } from "../src/decode/index.ts";
import { MAX_FRACTION_DIGITS, MAX_INTEGER_DIGITS } from "../src/decode/limits.ts";
import { Mapper } from "../src/map/mapper.ts";
import { base, edited, unscaledBase64 } from "../test/support/hostile.ts";

const config = parseConfig(
  JSON.stringify({
    kafka: { brokers: "127.0.0.1:1", groupId: "stall" },
    target: { dialect: "postgres", url: "postgres://127.0.0.1/shadow" },
    tables: [{ topic: base.topic, table: "public.fx_alltypes" }],
    http: { port: 0 },
  }),
  "stall.yaml",
  {},
);
// Decoder and mapper as the materializer builds them from the config.
const decoder = decoderFor(config);
const mapper = new Mapper(resolveTable(config, base.topic)!, config.masking.key);

const widest = unscaledBase64(10n ** BigInt(MAX_INTEGER_DIGITS + MAX_FRACTION_DIGITS) - 1n);
const largest = { scale: MAX_FRACTION_DIGITS, value: widest };

function batch(make: (i: number) => KafkaRecord): KafkaRecord[] {
  return Array.from({ length: 30 }, (_, i) => ({ ...make(i), offset: String(i) }));
}

const scenarios: [string, KafkaRecord[]][] = [
  [
    "one decimal of the largest size PostgreSQL holds (147,455 digits) per record",
    batch(() => edited((v) => (v.payload.after.c_numeric = largest))),
  ],
  [
    "that and 100,000 digits more per record (the per-record budget, 262,144 digits)",
    batch(() =>
      edited((v) => {
        v.payload.after.c_numeric = largest;
        v.payload.after.c_numeric_array = [{ scale: 0, value: unscaledBase64(10n ** 100_000n) }];
      }),
    ),
  ],
  [
    "two of the largest per record (294,910 digits: refused by the budget)",
    batch(() => edited((v) => (v.payload.after.c_numeric_array = [largest, largest]))),
  ],
  [
    "a 200,000-byte decimal per record (the issue's case, now refused)",
    batch(() =>
      edited((v) => (v.payload.after.c_numeric_12_3 = Buffer.alloc(200_000, 0x7f).toString("base64"))),
    ),
  ],
  [
    "a 15 MiB text per record (decode.maxRecordBytes is 16 MiB)",
    batch(() => edited((v) => (v.payload.after.c_text = "x".repeat(15 * 1024 * 1024)))),
  ],
];

async function measure(work: () => Promise<unknown>): Promise<{ maxMs: number; totalMs: number }> {
  await turn();
  const histogram = monitorEventLoopDelay({ resolution: 1 });
  histogram.enable();
  // The histogram's timer must have ticked once, or a block that starts now goes unseen.
  await new Promise((resolve) => setTimeout(resolve, 5));
  const started = performance.now();
  await work();
  const totalMs = performance.now() - started;
  // Let the histogram see the last turn end.
  await new Promise((resolve) => setTimeout(resolve, 5));
  histogram.disable();
  return { maxMs: histogram.max / 1e6, totalMs };
}

const rows: string[] = [];
for (const [name, records] of scenarios) {
  const bytes = records.reduce((sum, r) => sum + (r.value?.length ?? 0) + (r.key?.length ?? 0), 0);
  // Warm the decoder's schema caches and the JIT once, as a running consumer has.
  await prepareSliced(records.slice(0, 1), decoder, mapper);
  const sliced = await measure(() => prepareSliced(records, decoder, mapper));
  const items = await prepareSliced(records, decoder, mapper);
  const errors = new Set(items.flatMap((i) => (i.error ? [i.error.code] : [])));
  const whole = await measure(async () => prepareItems(records, decoder, mapper));
  rows.push(
    `| ${name} | ${(bytes / 1024 / 1024).toFixed(1)} MiB | ${sliced.maxMs.toFixed(0)} ms | ${whole.maxMs.toFixed(0)} ms | ${sliced.totalMs.toFixed(0)} ms | ${errors.size ? [...errors].join(", ") : "decoded"} |`,
  );
}
console.log("| 30 records | bytes | longest block, sliced | in one turn (before) | total | outcome |");
console.log("| --- | --- | --- | --- | --- | --- |");
for (const row of rows) console.log(row);
