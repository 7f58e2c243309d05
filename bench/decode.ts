/**
 * bench/decode: decoding throughput on recorded Debezium messages, with and without schemas,
 * side by side with bare JSON.parse of the same bytes (the ceiling a JSON decoder cannot beat
 * by parsing). Rounds alternate so both see the same machine noise; the figure that matters is
 * the ratio. Writes bench/results/decode.json (SHADOWDB_BENCH_RESULTS elsewhere) and the lowest
 * ratio as decode_ratio_vs_json_parse to summary.json.
 */
import { readdirSync, statSync } from "node:fs";
import path from "node:path";
import { type KafkaRecord, RecordDecoder } from "../src/decode/index.ts";
import { readFixture, recordedDir, toRecord } from "../test/support/fixtures.ts";
import { writeResults } from "./support.ts";

const recorded = recordedDir;
const target = Number(process.env.BENCH_MESSAGES ?? 50_000);
const rounds = Number(process.env.BENCH_ROUNDS ?? 7);

function load(mode: string): KafkaRecord[] {
  const records: KafkaRecord[] = [];
  for (const engine of readdirSync(recorded)) {
    const folder = path.join(recorded, engine, mode);
    if (!statSync(folder, { throwIfNoEntry: false })?.isDirectory()) continue;
    for (const file of readdirSync(folder).filter((f) => f.endsWith(".json"))) {
      const fixture = readFixture(path.join(engine, mode, file));
      for (const m of fixture.messages) if (m.value !== null) records.push(toRecord(m));
    }
  }
  if (records.length === 0)
    throw new Error(`no recorded messages for mode ${mode}: run npm run fixtures:record`);
  const out: KafkaRecord[] = [];
  for (let i = 0; out.length < target; i++) out.push(records[i % records.length]!);
  return out;
}

function time(run: () => void): number {
  const start = process.hrtime.bigint();
  run();
  return Number(process.hrtime.bigint() - start) / 1e9;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function measure(mode: string) {
  const records = load(mode);
  const bytes = records.reduce((n, r) => n + r.value!.length + (r.key?.length ?? 0), 0);
  const decoder = new RecordDecoder();
  let sink = 0;
  const parseOnly = () => {
    for (const r of records) {
      // The same work a decoder cannot avoid: bytes to text, text to values, for key and value.
      if (r.key) sink += JSON.parse(r.key.toString("utf8")) === null ? 0 : 1;
      sink += JSON.parse(r.value!.toString("utf8")) === null ? 0 : 1;
    }
  };
  const decodeAll = () => {
    for (const r of records) sink += decoder.decode(r).op.length;
  };
  parseOnly();
  decodeAll();
  const parseTimes: number[] = [];
  const decodeTimes: number[] = [];
  for (let i = 0; i < rounds; i++) {
    parseTimes.push(time(parseOnly));
    decodeTimes.push(time(decodeAll));
  }
  if (sink === 0) throw new Error("nothing was decoded");
  const row = (seconds: number) => ({
    messagesPerSecond: Math.round(records.length / seconds),
    megabytesPerSecond: Number((bytes / 1e6 / seconds).toFixed(1)),
  });
  const parse = row(median(parseTimes));
  const decode = row(median(decodeTimes));
  return {
    mode,
    messages: records.length,
    averageBytes: Math.round(bytes / records.length),
    jsonParse: parse,
    decode,
    ratio: Number((decode.messagesPerSecond / parse.messagesPerSecond).toFixed(2)),
  };
}

const results = ["default", "schemaless"].map(measure);
const report = {
  benchmark: "decode",
  date: new Date().toISOString(),
  node: process.version,
  rounds,
  goal: "decode >= 0.5 x bare JSON.parse throughput",
  results,
};
console.log("mode        messages  avg bytes  JSON.parse msg/s (MB/s)  decode msg/s (MB/s)  ratio");
for (const r of results) {
  console.log(
    `${r.mode.padEnd(11)} ${String(r.messages).padStart(8)}  ${String(r.averageBytes).padStart(9)}  ` +
      `${String(r.jsonParse.messagesPerSecond).padStart(10)} (${String(r.jsonParse.megabytesPerSecond).padStart(6)})     ` +
      `${String(r.decode.messagesPerSecond).padStart(10)} (${String(r.decode.megabytesPerSecond).padStart(6)})  ${r.ratio}`,
  );
}
// The goal's figure: the slowest mode's ratio.
writeResults("decode", report, { decode_ratio_vs_json_parse: Math.min(...results.map((r) => r.ratio)) });
