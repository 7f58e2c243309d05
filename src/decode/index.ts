export type { Column, ColumnKind, ColumnType } from "./columns.ts";
export type { BinaryHandlingMode } from "./context.ts";
export { DecodeError } from "./decode-error.ts";
export { type DecoderOptions, type KafkaRecord, KEY_CHANGE_HEADERS, RecordDecoder } from "./decoder.ts";
export type * from "./events.ts";
export type { Format } from "./format.ts";
export { type Row, toLosslessJson, UNCHANGED, type Value } from "./values.ts";
