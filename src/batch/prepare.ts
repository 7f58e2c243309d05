/**
 * Fetched records decoded and mapped into items, in slices that give the event loop back: decoding
 * the next batch overlaps with the target's work on this one, and a batch of huge values never
 * holds the loop long enough to miss /healthz or a Kafka heartbeat.
 */
import { setImmediate as setImmediatePromise } from "node:timers/promises";
import type { Config } from "../config/index.ts";
import { type KafkaRecord, KEY_CHANGE_HEADERS, RecordDecoder } from "../decode/index.ts";
import type { Mapper } from "../map/mapper.ts";
import { type Item, prepareItems } from "./items.ts";

/** The decoder `run` uses: the config's decode settings, with before-images kept for deletes only. */
export function decoderFor(config: Config): RecordDecoder {
  return new RecordDecoder({
    binaryHandlingMode: config.decode.binaryHandlingMode,
    maxRecordBytes: config.decode.maxRecordBytes,
    before: "deletes",
  });
}

const NO_HEADERS: KafkaRecord["headers"] = Object.freeze({});

/**
 * The headers decoding reads, or none. Items live until their apply commits, and Debezium's four
 * context headers per record (kafkajs decodes each into a Buffer) were a third of what they held.
 */
export function headersRead(headers: KafkaRecord["headers"]): KafkaRecord["headers"] {
  if (headers === undefined) return NO_HEADERS;
  for (const name of KEY_CHANGE_HEADERS) if (headers[name] !== undefined) return headers;
  return NO_HEADERS;
}

/** Records decoded between two turns of the event loop. */
const DECODE_SLICE = 256;
/**
 * Record bytes that end a slice early. Decoding costs ~0.01 us a byte of JSON but ~0.5 us a byte
 * of a large decimal (turned into digits): 30 records of the largest decimal PostgreSQL holds,
 * sliced at 1 MiB, held the loop for 1.1 s; at 64 KiB a slice is a few tens of ms at worst.
 */
const DECODE_SLICE_BYTES = 64 * 1024;
/** Slices run back to back until this long has passed since the last turn of the loop. */
const DECODE_TURN_MS = 10;

/** Where the slice from `start` ends: after one record at least, DECODE_SLICE at most, or once it holds DECODE_SLICE_BYTES. */
function sliceEnd(records: KafkaRecord[], start: number): number {
  let end = start;
  let bytes = 0;
  while (end < records.length && end - start < DECODE_SLICE && bytes < DECODE_SLICE_BYTES) {
    const record = records[end++]!;
    bytes += (record.key?.length ?? 0) + (record.value?.length ?? 0);
  }
  return end;
}

/** Decodes and maps `records` in slices, letting the apply in flight take its replies between them. */
export async function prepareSliced(
  records: KafkaRecord[],
  decoder: RecordDecoder,
  mapper: Mapper | undefined,
): Promise<Item[]> {
  const items: Item[] = [];
  let turned = performance.now();
  for (let start = 0, end = 0; start < records.length; start = end) {
    if (start > 0 && performance.now() - turned >= DECODE_TURN_MS) {
      await setImmediatePromise();
      turned = performance.now();
    }
    end = sliceEnd(records, start);
    for (const item of prepareItems(records.slice(start, end), decoder, mapper)) items.push(item);
  }
  return items;
}
