/**
 * Records of any framing → ChangeEvent, the same events RecordDecoder gives for JSON: Avro keys
 * and values are read with their writer schemas from the registry, JSON ones as before. Schema
 * lookups are asynchronous and done per batch (prepare); decode() itself stays synchronous.
 */
import type { DecoderOptions, Envelope, KafkaRecord } from "../decoder.ts";
import { RecordDecoder } from "../decoder.ts";
import type { ChangeEvent } from "../events.ts";
import type { Format } from "../format.ts";
import { AvroSchemas, type SchemaSource } from "./schemas.ts";

export interface AvroDecoderOptions extends DecoderOptions {
  /** Writer schemas kept resolved and compiled (oldest evicted first); default 2048. */
  maxSchemas?: number;
}

export class AvroDecoder {
  private readonly schemas: AvroSchemas;
  private readonly decoder: RecordDecoder;

  constructor(source: SchemaSource, options: AvroDecoderOptions = {}) {
    this.schemas = new AvroSchemas(source, options.maxSchemas);
    this.decoder = new RecordDecoder(options, this.schemas);
  }

  /**
   * Resolves the writer schemas of a batch's records. Rejects with a retriable error
   * (REGISTRY_UNAVAILABLE) when the registry cannot answer now: wait and prepare again. An id it
   * refuses for good is not a rejection: decode() throws that record's DecodeError.
   */
  prepare(
    records: Iterable<KafkaRecord>,
    formatOf?: (record: KafkaRecord) => Format | undefined,
  ): Promise<void> {
    return this.schemas.prepare(records, formatOf);
  }

  /** As RecordDecoder.decode; an Avro record whose batch was not prepared: REGISTRY_SCHEMA_NOT_PREPARED. */
  decode(record: KafkaRecord, envelope: Envelope = "debezium", format?: Format): ChangeEvent {
    return this.decoder.decode(record, envelope, format);
  }
}
