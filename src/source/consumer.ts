/**
 * The Kafka side of `run`: which topics to read (mapped ones, new ones as they appear), one
 * consumer's life (rebalances, crashes, restarts while Kafka is away), and Kafka's group offsets.
 * What a batch means is the caller's (ConsumeRun); this file only knows Kafka.
 */
import type { Admin, Consumer, EachBatchPayload, Kafka } from "kafkajs";
import { backoffDelay, sleep } from "../apply/backoff.ts";
import type { Positions } from "../apply/positions.ts";
import { type Config, resolveTable } from "../config/index.ts";
import type { Health } from "../health/health.ts";
import { kafkaOutage, originalCause, problem } from "../health/outage.ts";
import type { Logger } from "../log.ts";
import { allToOneAssigner } from "./assigner.ts";
import { type PartitionId, splitPartitionId } from "./partition.ts";

/** How long a fetch waits for data: also how long a stop waits for the fetch in flight. */
const FETCH_WAIT_MS = 500;

export interface KafkaSourceOptions {
  config: Config;
  kafka: Kafka;
  log: Logger;
  health: Health;
  /** Source mode: every partition to one member, and the transaction metadata topic read too. */
  transactionTopic?: string;
}

/** What the caller does with one consumer's life. `stop` aborts when it ends; `fail` ends it with an error. */
export interface ConsumeRun {
  eachBatch: (payload: EachBatchPayload, stop: AbortSignal, fail: (error: unknown) => void) => Promise<void>;
  /** A rebalance: what was taken beyond the stored positions is no longer this instance's. */
  rebalanced: () => void;
  /** Timers that live as long as the consumer; returns what clears them. */
  timers: (stop: AbortSignal, fail: (error: unknown) => void) => () => void;
  /** The consumer is stopping: let go of what it holds open. */
  stopping: () => void;
  /** Resolves once the work the consumer handed off has ended. */
  settled: () => Promise<void>;
}

export class KafkaSource {
  /** The partitions this instance owns since the last rebalance, by topic. */
  assignment: Record<string, number[]> = {};
  /** The topics the running consumer reads. */
  topics: string[] = [];
  private consumer: Consumer | undefined;

  constructor(private readonly options: KafkaSourceOptions) {}

  /**
   * Consumes until `signal` aborts, a consumer at a time: a new mapped topic starts the next one;
   * Kafka being away is waited out with backoff. Other failures are thrown.
   */
  async run(admin: Admin, signal: AbortSignal, run: ConsumeRun): Promise<void> {
    const { config, log, health } = this.options;
    for (let attempt = 0; !signal.aborted; ) {
      try {
        const topics = await this.mappedTopics(admin);
        health.kafka("admin", undefined);
        if (topics.length === 0) {
          log.warn({ every: config.kafka.topicRefreshMs }, "no mapped topic exists yet; waiting");
          health.assigned([]);
          await sleep(config.kafka.topicRefreshMs, signal);
          continue;
        }
        await this.consume(topics, admin, signal, run);
        attempt = 0;
      } catch (error) {
        if (!kafkaOutage(error)) throw error;
        health.kafka("consumer", problem(error));
        const delay = Math.round(backoffDelay(attempt++, 1000));
        log.warn({ err: error, delay }, "kafka is not answering; starting the consumer again later");
        await sleep(delay, signal);
      }
    }
  }

  /** The existing topics the config maps (exactly or by pattern), and the transaction topic. */
  private async mappedTopics(admin: Admin): Promise<string[]> {
    const { config, transactionTopic } = this.options;
    const existing = await admin.listTopics();
    const mapped = existing.filter((t) => resolveTable(config, t) !== undefined);
    if (transactionTopic && existing.includes(transactionTopic) && !mapped.includes(transactionTopic))
      mapped.push(transactionTopic);
    return mapped.sort();
  }

  /** One consumer's life: until `signal` aborts, a new mapped topic appears (resolves), or it fails. */
  private async consume(topics: string[], admin: Admin, signal: AbortSignal, run: ConsumeRun): Promise<void> {
    const { config, kafka, log, health } = this.options;
    const renew = new AbortController();
    const stop = AbortSignal.any([signal, renew.signal]);
    // Debezium records with schemas run to several KiB; larger fetches make larger transactions.
    // One bound for the whole response and for one partition: however many partitions have a
    // backlog, a fetch holds at most fetchMaxBytes (the memory it and its decoded records take).
    const consumer = kafka.consumer({
      groupId: config.kafka.groupId,
      allowAutoTopicCreation: false,
      sessionTimeout: config.kafka.sessionTimeoutMs,
      heartbeatInterval: Math.min(3000, Math.floor(config.kafka.sessionTimeoutMs / 3)),
      maxBytesPerPartition: config.kafka.fetchMaxBytes,
      maxBytes: config.kafka.fetchMaxBytes,
      maxWaitTimeInMs: FETCH_WAIT_MS,
      ...(this.options.transactionTopic ? { partitionAssigners: [allToOneAssigner] } : {}),
    });
    this.consumer = consumer;
    this.topics = topics;
    let fatal: unknown;
    const stopped = new Promise<void>((resolve) => {
      stop.addEventListener("abort", () => resolve(), { once: true });
      consumer.on(consumer.events.CRASH, (event) => {
        if (!event.payload.restart) {
          const { error } = event.payload;
          fatal = kafkaOutage(error) ? error : originalCause(error);
          resolve();
        } else {
          health.kafka("consumer", `the consumer restarts after ${problem(event.payload.error)}`);
        }
      });
    });
    const fail = (error: unknown) => {
      fatal = error;
      renew.abort();
    };
    // A rebalance may hand us partitions another instance advanced: what we knew is stale, and
    // each partition's position is read again from the target before its next batch.
    consumer.on(consumer.events.GROUP_JOIN, (event) => {
      run.rebalanced();
      this.assignment = event.payload.memberAssignment;
      health.assigned(
        Object.entries(this.assignment).flatMap(([topic, partitions]) =>
          partitions.map((partition) => ({ topic, partition })),
        ),
      );
    });
    consumer.on(consumer.events.FETCH, () => health.kafka("consumer", undefined));
    const watch = setInterval(() => {
      this.mappedTopics(admin).then(
        (now) => {
          const added = now.filter((t) => !topics.includes(t));
          if (added.length === 0) return;
          log.info({ topics: added }, "new mapped topics: subscribing");
          renew.abort();
        },
        (error) => log.warn({ err: error }, "listing topics failed; trying again later"),
      );
    }, config.kafka.topicRefreshMs);
    const clearTimers = run.timers(stop, fail);
    try {
      await consumer.connect();
      await consumer.subscribe({ topics, fromBeginning: config.kafka.fromBeginning });
      await consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        eachBatch: (payload) => run.eachBatch(payload, stop, fail),
      });
      log.info(
        { groupId: config.kafka.groupId, topics: topics.length, transactional: config.apply.transactional },
        "materializer running",
      );
      await stopped;
    } finally {
      clearInterval(watch);
      clearTimers();
      run.stopping();
      await consumer.disconnect().catch(() => undefined);
      await run.settled();
    }
    if (fatal) throw fatal;
  }

  /** Fetches a partition again from `offset` (throws if it is not this consumer's any more). */
  seek(topic: string, partition: number, offset: bigint | string): void {
    this.consumer!.seek({ topic, partition, offset: offset.toString() });
  }

  pause(topic: string, partition: number): void {
    this.consumer!.pause([{ topic, partitions: [partition] }]);
  }

  resume(topic: string, partition: number): void {
    this.consumer?.resume([{ topic, partitions: [partition] }]);
  }

  /** Kafka's group offsets, for lag tools; the target holds the truth, so a failure only waits. */
  async commitOffsets(positions: Positions, ids: Iterable<PartitionId>): Promise<void> {
    const offsets: { topic: string; partition: number; offset: string }[] = [];
    for (const id of ids) {
      const next = positions.next(id);
      if (next !== undefined) offsets.push({ ...splitPartitionId(id), offset: next.toString() });
    }
    await this.consumer!.commitOffsets(offsets).catch((error: unknown) =>
      this.options.log.debug({ err: error }, "committing group offsets failed; the next commit catches up"),
    );
  }
}
