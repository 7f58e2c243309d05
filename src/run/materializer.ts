/**
 * The main job: consume the mapped Debezium topics and keep the target tables equal to the
 * sources. Positions live in the target, written in the same transaction as the rows they
 * produced; Kafka's group offsets follow after each commit, for lag tooling only.
 */
import type { Consumer, EachBatchPayload, Kafka, Producer } from "kafkajs";
import { type Config, resolveTable, topicSubscriptions } from "../config/index.ts";
import { type KafkaRecord, RecordDecoder } from "../decode/index.ts";
import { ShadowdbError } from "../errors.ts";
import type { Logger } from "../log.ts";
import { Mapper } from "../map/mapper.ts";
import type { ClassifiedError, DeadLetter, Target } from "../target/dialect.ts";
import { type ApplyContext, applyItems } from "./apply.ts";
import { backoffDelay, sleep } from "./backoff.ts";
import { prepareItems } from "./batch.ts";
import { TargetTables } from "./tables.ts";

export interface MaterializerOptions {
  config: Config;
  kafka: Kafka;
  target: Target;
  classify: (error: unknown) => ClassifiedError;
  log: Logger;
}

export interface MaterializerStats {
  applied: number;
  deadLetters: number;
  batches: number;
  retries: number;
}

const partitionKey = (topic: string, partition: number) => `${topic}\u0000${partition}`;

export class Materializer {
  readonly stats: MaterializerStats = { applied: 0, deadLetters: 0, batches: 0, retries: 0 };
  /** The partitions this instance owns since the last rebalance, by topic (for status and tests). */
  assignment: Record<string, number[]> = {};
  private readonly decoder: RecordDecoder;
  private readonly tables: TargetTables;
  private readonly mappers = new Map<string, Mapper>();
  /** Next offset per partition, as stored in the target: the source of truth. */
  private positions = new Map<string, bigint>();
  /** Partitions sought back to their stored position since the last assignment. */
  private sought = new Set<string>();
  /** Partitions whose position was read from the target since the last assignment. */
  private fresh = new Set<string>();
  private consumer: Consumer | undefined;
  private producer: Producer | undefined;

  constructor(private readonly options: MaterializerOptions) {
    const { decode } = options.config;
    this.decoder = new RecordDecoder({
      binaryHandlingMode: decode.binaryHandlingMode,
      maxRecordBytes: decode.maxRecordBytes,
    });
    this.tables = new TargetTables(options.target, options.log);
  }

  /** Runs until `signal` aborts (resolves) or a fatal error (rejects). Stops in reverse order of start. */
  async run(signal: AbortSignal): Promise<void> {
    const { config, kafka, target, log } = this.options;
    await target.prepare();
    if (config.deadLetter.kind === "topic") {
      this.producer = kafka.producer({ allowAutoTopicCreation: true });
      await this.producer.connect();
    }
    // Debezium records with schemas run to several KiB; larger fetches make larger transactions.
    const consumer = kafka.consumer({
      groupId: config.kafka.groupId,
      allowAutoTopicCreation: false,
      sessionTimeout: config.kafka.sessionTimeoutMs,
      heartbeatInterval: Math.min(3000, Math.floor(config.kafka.sessionTimeoutMs / 3)),
      maxBytesPerPartition: 16 * 1024 * 1024,
      maxBytes: 64 * 1024 * 1024,
    });
    this.consumer = consumer;
    let fatal: unknown;
    const stopped = new Promise<void>((resolve) => {
      signal.addEventListener("abort", () => resolve(), { once: true });
      consumer.on(consumer.events.CRASH, (event) => {
        if (!event.payload.restart) {
          fatal = event.payload.error;
          resolve();
        }
      });
    });
    // A rebalance may hand us partitions another instance advanced: what we knew is stale, and
    // each partition's position is read again from the target before its next batch.
    consumer.on(consumer.events.GROUP_JOIN, (event) => {
      this.sought.clear();
      this.fresh.clear();
      this.assignment = event.payload.memberAssignment;
    });
    try {
      await consumer.connect();
      await consumer.subscribe({
        topics: topicSubscriptions(config),
        fromBeginning: config.kafka.fromBeginning,
      });
      await consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        eachBatch: (payload) => this.eachBatch(payload, signal),
      });
      log.info({ groupId: config.kafka.groupId, tables: config.tables.length }, "materializer running");
      await stopped;
    } finally {
      await consumer.disconnect().catch(() => undefined);
      await this.producer?.disconnect().catch(() => undefined);
      await target.close();
    }
    if (fatal) throw fatal;
  }

  private async loadPositions(): Promise<void> {
    const stored = await this.options.target.readPositions(this.options.config.kafka.groupId);
    for (const p of stored) this.positions.set(partitionKey(p.topic, p.partition), BigInt(p.offset));
  }

  private mapperFor(topic: string): Mapper | undefined {
    let mapper = this.mappers.get(topic);
    if (!mapper) {
      const mapping = resolveTable(this.options.config, topic);
      if (!mapping) return undefined;
      mapper = new Mapper(mapping, this.options.config.masking?.key);
      this.mappers.set(topic, mapper);
    }
    return mapper;
  }

  private async eachBatch(payload: EachBatchPayload, signal: AbortSignal): Promise<void> {
    const { batch, heartbeat, resolveOffset, isRunning, isStale } = payload;
    const { topic, partition } = batch;
    if (batch.messages.length === 0) return;
    const key = partitionKey(topic, partition);
    if (!this.fresh.has(key)) {
      await this.loadPositions();
      this.fresh.add(key);
    }
    const stored = this.positions.get(key);
    const first = BigInt(batch.firstOffset()!);
    if (stored !== undefined && stored < first && !this.sought.has(key)) {
      // The database is behind Kafka's group offset (e.g. the shadow was restored): go back once.
      this.sought.add(key);
      this.consumer!.seek({ topic, partition, offset: stored.toString() });
      return;
    }
    const mapper = this.mapperFor(topic);
    if (!mapper) return;
    const records: KafkaRecord[] = batch.messages
      .filter((m) => stored === undefined || BigInt(m.offset) >= stored)
      .map((m) => ({
        topic,
        partition,
        offset: m.offset,
        key: m.key,
        value: m.value,
        headers: m.headers ?? {},
      }));
    if (records.length === 0) {
      resolveOffset(batch.lastOffset());
      return;
    }
    let items = prepareItems(records, this.decoder, mapper);
    const ctx: ApplyContext = {
      target: this.options.target,
      classify: this.options.classify,
      tables: this.tables,
      groupId: this.options.config.kafka.groupId,
      mapping: mapper.mapping,
      deadLetterSink:
        this.options.config.deadLetter.kind === "table"
          ? "table"
          : (letters) => this.produceDeadLetters(letters),
      onError: this.options.config.onError,
      onCommitted: (next) => this.positions.set(key, BigInt(next)),
      expectedPosition: () => this.positions.get(key)?.toString(),
    };
    for (let attempt = 0; ; attempt++) {
      try {
        const result = await applyItems(ctx, items);
        this.stats.applied += result.applied;
        this.stats.deadLetters += result.deadLetters.length;
        this.stats.batches++;
        for (const letter of result.deadLetters) {
          this.options.log.warn(
            { topic, partition, offset: letter.offset, code: letter.code },
            letter.message,
          );
        }
        break;
      } catch (error) {
        const retriable = error instanceof ShadowdbError && error.retriable;
        if (!retriable || signal.aborted || !isRunning() || isStale()) throw error;
        this.stats.retries++;
        const delay = backoffDelay(attempt);
        this.options.log.warn(
          { err: error, topic, partition, attempt, delay: Math.round(delay) },
          "retrying batch",
        );
        await sleep(delay, signal);
        await heartbeat();
        // Fenced: another instance moved the partition on; learn where it is before going on.
        if (error instanceof ShadowdbError && error.code === "APPLY_FENCED") await this.loadPositions();
        // Part of the batch may have been committed record by record before the failure.
        const next = this.positions.get(key);
        if (next !== undefined) items = items.filter((i) => BigInt(i.record.offset) >= next);
        if (items.length === 0) break;
      }
    }
    const next = this.positions.get(key)!;
    resolveOffset((next - 1n).toString());
    await this.consumer!.commitOffsets([{ topic, partition, offset: next.toString() }]);
    await heartbeat();
  }

  private async produceDeadLetters(letters: DeadLetter[]): Promise<void> {
    const { config } = this.options;
    if (config.deadLetter.kind !== "topic" || !this.producer) return;
    await this.producer.send({
      topic: config.deadLetter.topic,
      messages: letters.map((l) => ({
        key: l.key,
        value: l.value,
        headers: {
          "shadowdb.error.code": l.code,
          "shadowdb.error.message": l.message,
          "shadowdb.source.topic": l.topic,
          "shadowdb.source.partition": String(l.partition),
          "shadowdb.source.offset": l.offset,
        },
      })),
    });
  }
}
