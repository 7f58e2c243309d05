export { AvroDecoder, type AvroDecoderOptions } from "./avro-decoder.ts";
export { connectSchemaOf } from "./connect-schema.ts";
export { type IdKind, recognise, type SchemaRef } from "./framing.ts";
export { RegistryClient, type RegistryOptions } from "./registry.ts";
export type { SchemaSource } from "./schemas.ts";
