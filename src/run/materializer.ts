/**
 * The main job: consume the mapped Debezium topics and keep the target tables equal to the
 * sources. Positions live in the target, written in the same transaction as the rows they
 * produced; Kafka's group offsets follow after each commit, for lag tooling only.
 */
import { setImmediate as setImmediatePromise } from "node:timers/promises";
import type { Admin, Consumer, EachBatchPayload, Kafka } from "kafkajs";
import { type ApplyContext, type ApplyResult, applyItems } from "../apply/apply.ts";
import { backoffDelay, sleep } from "../apply/backoff.ts";
import { DeadLetterRelay } from "../apply/dead-letter-relay.ts";
import { type Observers, observeApplied, reportSetAside } from "../apply/observe.ts";
import {
  type KnownShapes,
  NeedsShapes,
  resolveShapes,
  StreamedTransaction,
} from "../apply/streamed-transaction.ts";
import { type Item, prepareItems } from "../batch/items.ts";
import { SourceTransactions } from "../batch/source-transactions.ts";
import { type Config, resolveTable } from "../config/index.ts";
import { type KafkaRecord, KEY_CHANGE_HEADERS, RecordDecoder } from "../decode/index.ts";
import { ShadowdbError } from "../errors.ts";
import { Health } from "../health/health.ts";
import {
  kafkaOutage,
  NoAnswer,
  originalCause,
  PROBE_WAIT_MS,
  problem,
  targetProblem,
  within,
} from "../health/outage.ts";
import type { Logger } from "../log.ts";
import { Mapper } from "../map/mapper.ts";
import type { Metrics } from "../metrics/metrics.ts";
import { allToOneAssigner } from "../source/assigner.ts";
import type { ApplyTarget, ClassifiedError } from "../target/dialect.ts";
import { TargetTables } from "../target/tables.ts";

export interface MaterializerOptions {
  config: Config;
  kafka: Kafka;
  target: ApplyTarget;
  classify: (error: unknown) => ClassifiedError;
  log: Logger;
  /** Prometheus metrics to feed; absent, nothing is counted beyond `stats`. */
  metrics?: Metrics;
}

export interface MaterializerStats {
  applied: number;
  /** Letters stored (whole, or reduced when the store refused one). */
  deadLetters: number;
  /** Records set aside whose letter the store refused even reduced: skipped, logged (error). */
  unstorableLetters: number;
  batches: number;
  retries: number;
  /** Source transactions committed without all their events (source mode). */
  incompleteTransactions: number;
  /** Overlay: changes that went to the production copy because the shadow owns their key. */
  toCopy: number;
  /** Overlay: inserts that a concurrent shadow insert of the same key beat (then sent to the copy). */
  lostInserts: number;
  /** Overlay: production rows kept aside by a unique conflict with an overlay row. */
  hidden: number;
}

const partitionKey = (topic: string, partition: number) => `${topic}\u0000${partition}`;

/** A partition stopped at a record of a transaction the stream does not carry (yet). */
interface Cut {
  topic: string;
  partition: number;
  offset: bigint;
  /** The transaction of the record it stopped at (none: it arrived while the stream committed). */
  group?: string;
}

/**
 * Source mode, past apply.maxHeldBytes: the held transactions (`groups`) written as they arrive
 * into one open target transaction. What comes after them waits in Kafka: a partition reaching a
 * record of another transaction is paused there (`cuts`) and resumed after the commit, or earlier
 * if that transaction turns out to be committed before one the stream carries (its END arrives
 * while the stream still awaits one of its own), when it joins the stream.
 */
interface Stream {
  /** Opened once the target session is free (the apply before it has ended). */
  tx?: StreamedTransaction;
  groups: Set<string>;
  /** Groups of the stream whose END may still come (pruned as they end). */
  awaiting: Set<string>;
  cuts: Map<string, Cut>;
  /** The first offset the stream took per partition: where to go back to if it fails. */
  from: Map<string, bigint>;
  items: number;
  closing: boolean;
  /** Gives the target session back (the stream held the serial chain). */
  over: () => void;
}

const NO_HEADERS: KafkaRecord["headers"] = Object.freeze({});

/**
 * The headers decoding reads, or none. Items live until their apply commits, and Debezium's four
 * context headers per record (kafkajs decodes each into a Buffer) were a third of what they held.
 */
function headersRead(headers: KafkaRecord["headers"]): KafkaRecord["headers"] {
  if (headers === undefined) return NO_HEADERS;
  for (const name of KEY_CHANGE_HEADERS) if (headers[name] !== undefined) return headers;
  return NO_HEADERS;
}

/** How long a fetch waits for data: also how long a stop waits for the fetch in flight. */
const FETCH_WAIT_MS = 500;
/** Records decoded between two turns of the event loop (see Materializer.prepare). */
const DECODE_SLICE = 256;
/**
 * Record bytes that end a slice early. Decoding costs ~0.01 us a byte of JSON but ~0.5 us a byte
 * of a large decimal (turned into digits): 30 records of the largest decimal PostgreSQL holds,
 * sliced at 1 MiB, held the loop for 1.1 s; at 64 KiB a slice is a few tens of ms at worst.
 */
const DECODE_SLICE_BYTES = 64 * 1024;
/** Slices run back to back until this long has passed since the last turn of the loop. */
const DECODE_TURN_MS = 10;
/** How often high-water marks are read for lag, and an idle target is asked whether it answers. */
const PROBE_MS = 5000;

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

export class Materializer {
  readonly stats: MaterializerStats = {
    applied: 0,
    deadLetters: 0,
    unstorableLetters: 0,
    batches: 0,
    retries: 0,
    incompleteTransactions: 0,
    toCopy: 0,
    lostInserts: 0,
    hidden: 0,
  };
  /** The partitions this instance owns since the last rebalance, by topic (for status and tests). */
  assignment: Record<string, number[]> = {};
  /** The topics the running consumer reads. */
  topics: string[] = [];
  readonly health: Health;
  private readonly decoder: RecordDecoder;
  private readonly tables: TargetTables;
  private readonly mappers = new Map<string, Mapper>();
  private readonly ctx: ApplyContext;
  private readonly observers: Observers;
  /** Next offset per partition, as stored in the target: the source of truth. */
  private positions = new Map<string, bigint>();
  /** Partitions sought back to their stored position since the last assignment. */
  private sought = new Set<string>();
  /** Whether the positions were read from the target since the last assignment. */
  private fresh = false;
  /** Source mode: records are held until their transactions are complete. */
  private readonly source: SourceTransactions | undefined;
  /** Source mode: the next offset not yet held, per partition. */
  private held = new Map<string, bigint>();
  /** Source mode: table shapes resolved outside any transaction, which a stream may write. */
  private readonly known: KnownShapes = { columns: new WeakSet(), topics: new Set() };
  /** Source mode: held transactions past apply.maxHeldBytes, written as they arrive. */
  private stream: Stream | undefined;
  private streamAttempt = 0;
  private consumer: Consumer | undefined;
  private relay: DeadLetterRelay | undefined;
  private lettersWaiting = false;
  /**
   * The apply the last batch handed off, settled (its failure is handled where it is started).
   * One at a time: while it runs, kafkajs fetches the next batch and the decoder works on it.
   */
  private inflight: Promise<void> = Promise.resolve();
  /** Next offset after the records handed to an apply that may not have committed yet. */
  private dispatched = new Map<string, bigint>();
  /** Applies run one at a time: batches and the source mode's timer share the target session. */
  private serial: Promise<unknown> = Promise.resolve();
  /** When the target last answered (an apply or a probe), ms since the epoch. */
  private lastTargetAnswer = 0;

  constructor(private readonly options: MaterializerOptions) {
    const { config, target, classify } = options;
    this.health = new Health({
      readyLagMs: config.http.readyLagMs,
      stalledAfterMs: config.http.stalledAfterMs,
    });
    this.decoder = new RecordDecoder({
      binaryHandlingMode: config.decode.binaryHandlingMode,
      maxRecordBytes: config.decode.maxRecordBytes,
      before: "deletes",
    });
    const { enabled, idHeadroom } = config.overlay;
    this.tables = new TargetTables(
      target,
      options.log,
      enabled ? { idHeadroom: BigInt(idHeadroom) } : undefined,
      {
        follow: config.schema.follow,
        onDecision: (table, e) => options.metrics?.schemaDecisions.inc({ table, action: e.action }),
        retriable: (error) => classify(error).retriable,
      },
    );
    this.ctx = {
      target,
      classify,
      tables: this.tables,
      groupId: config.kafka.groupId,
      mappingFor: (topic) => this.mapperFor(topic)?.mapping,
      onError: config.onError,
      overlay: config.overlay.enabled,
      onCommitted: (topic, partition, next) => {
        this.positions.set(partitionKey(topic, partition), BigInt(next));
        this.health.position(topic, partition, BigInt(next));
      },
      expectedPosition: (topic, partition) => this.positions.get(partitionKey(topic, partition))?.toString(),
      onDeadLetters: (setAside) => {
        reportSetAside(setAside, options.log, this.stats, options.metrics);
        this.lettersWaiting = true;
      },
    };
    this.observers = {
      health: this.health,
      metrics: options.metrics,
      tableOf: (topic) => {
        const table = this.mapperFor(topic)?.mapping.table;
        return table && `${table.schema}.${table.name}`;
      },
    };
    const { transactional, transactionTopic, transactionTimeoutMs } = config.apply;
    if (transactional === "source" && transactionTopic) {
      // Debezium names a collection's topic <prefix>.<collection>, and the metadata topic <prefix>.transaction.
      const prefix = transactionTopic.slice(0, transactionTopic.lastIndexOf(".") + 1);
      this.source = new SourceTransactions({
        consumes: (collection) => resolveTable(config, `${prefix}${collection}`) !== undefined,
        timeoutMs: transactionTimeoutMs,
      });
    }
  }

  /** What `GET /status` shows: where this instance is and what it has done. */
  status(): Record<string, unknown> {
    const { config } = this.options;
    const positions: Record<string, string> = {};
    for (const [key, next] of this.positions) {
      const [topic, partition] = key.split("\u0000") as [string, string];
      positions[`${topic}[${partition}]`] = next.toString();
    }
    return {
      groupId: config.kafka.groupId,
      transactional: config.apply.transactional,
      overlay: config.overlay.enabled,
      topics: this.topics,
      assignment: this.assignment,
      positions,
      stats: { ...this.stats },
      heldForTransactions: this.source?.size ?? 0,
      heldBytes: this.source?.heldBytes ?? 0,
      streamedTransaction: this.stream
        ? { transactions: this.stream.groups.size, records: this.stream.items, paused: this.stream.cuts.size }
        : undefined,
      partitions: this.health.snapshot(),
      idHeadroom: Object.fromEntries(this.tables.idHeadroom),
      drift: this.tables.driftReport(),
    };
  }

  /**
   * Runs until `signal` aborts (resolves) or a fatal error (rejects). Stops in reverse order of
   * start. Kafka or the target being away, at start or later, is waited out with backoff: the
   * instance stays up and /readyz says why it is not ready.
   */
  async run(signal: AbortSignal): Promise<void> {
    const { config, kafka, target, log } = this.options;
    const admin = kafka.admin();
    const producer =
      config.deadLetter.kind === "topic"
        ? kafka.producer({ allowAutoTopicCreation: true, idempotent: true, maxInFlightRequests: 1 })
        : undefined;
    try {
      await this.untilDone("target", signal, () => target.prepare());
      await this.untilDone("kafka", signal, async () => {
        await admin.connect();
        await producer?.connect();
      });
      if (producer && config.deadLetter.kind === "topic") {
        const { topic } = config.deadLetter;
        this.relay = new DeadLetterRelay({ target, producer, topic, groupId: config.kafka.groupId });
        this.lettersWaiting = true;
        await this.relayLetters();
      }
      for (let attempt = 0; !signal.aborted; ) {
        try {
          const topics = await this.topicsToRead(admin);
          this.health.kafka("admin", undefined);
          if (topics.length === 0) {
            log.warn({ every: config.kafka.topicRefreshMs }, "no mapped topic exists yet; waiting");
            this.health.assigned([]);
            await sleep(config.kafka.topicRefreshMs, signal);
            continue;
          }
          await this.consume(topics, admin, signal);
          attempt = 0;
        } catch (error) {
          if (!kafkaOutage(error)) throw error;
          this.health.kafka("consumer", problem(error));
          const delay = Math.round(backoffDelay(attempt++, 1000));
          log.warn({ err: error, delay }, "kafka is not answering; starting the consumer again later");
          await sleep(delay, signal);
        }
      }
    } catch (error) {
      this.health.failed(problem(error));
      throw error;
    } finally {
      await producer?.disconnect().catch(() => undefined);
      await admin.disconnect().catch(() => undefined);
      await target.close();
    }
  }

  /** Retries `work` with backoff until it succeeds or `signal` aborts; fatal errors pass. */
  private async untilDone(part: "target" | "kafka", signal: AbortSignal, work: () => Promise<unknown>) {
    for (let attempt = 0; !signal.aborted; attempt++) {
      try {
        await work();
        if (part === "target") this.health.target(undefined);
        else this.health.kafka("admin", undefined);
        return;
      } catch (error) {
        const reason = part === "target" ? this.options.classify(error) : undefined;
        if (reason ? !reason.retriable : !kafkaOutage(error)) throw error;
        const text = reason ? targetProblem(reason, error) : problem(error);
        if (part === "target") this.health.target(text);
        else this.health.kafka("admin", text);
        const delay = Math.round(backoffDelay(attempt, 1000));
        this.options.log.warn({ err: error, delay }, `${part} is not answering; trying again`);
        await sleep(delay, signal);
      }
    }
  }

  /** The existing topics the config maps (exactly or by pattern), and the transaction topic. */
  private async topicsToRead(admin: Admin): Promise<string[]> {
    const { config } = this.options;
    const existing = await admin.listTopics();
    const mapped = existing.filter((t) => resolveTable(config, t) !== undefined);
    const txTopic = config.apply.transactionTopic;
    if (this.source && txTopic && existing.includes(txTopic) && !mapped.includes(txTopic))
      mapped.push(txTopic);
    return mapped.sort();
  }

  /** One consumer's life: until `signal` aborts, a new mapped topic appears (resolves), or it fails. */
  private async consume(topics: string[], admin: Admin, signal: AbortSignal): Promise<void> {
    const { config, kafka, log } = this.options;
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
      ...(this.source ? { partitionAssigners: [allToOneAssigner] } : {}),
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
          this.health.kafka("consumer", `the consumer restarts after ${problem(event.payload.error)}`);
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
      this.sought.clear();
      this.fresh = false;
      this.held.clear();
      this.dispatched.clear();
      this.abortStream();
      this.source?.clear();
      this.assignment = event.payload.memberAssignment;
      this.health.assigned(
        Object.entries(this.assignment).flatMap(([topic, partitions]) =>
          partitions.map((partition) => ({ topic, partition })),
        ),
      );
    });
    consumer.on(consumer.events.FETCH, () => this.health.kafka("consumer", undefined));
    const watch = setInterval(() => {
      this.topicsToRead(admin).then(
        (now) => {
          const added = now.filter((t) => !topics.includes(t));
          if (added.length === 0) return;
          log.info({ topics: added }, "new mapped topics: subscribing");
          renew.abort();
        },
        (error) => log.warn({ err: error }, "listing topics failed; trying again later"),
      );
    }, config.kafka.topicRefreshMs);
    const ids = config.overlay.enabled
      ? setInterval(() => {
          this.serialized(() => this.tables.checkIds()).catch((error: unknown) =>
            log.warn({ err: error }, "checking the shadow's id headroom failed; trying again later"),
          );
        }, config.overlay.idCheckMs)
      : undefined;
    let probing = false;
    const probe = setInterval(() => {
      if (probing) return;
      probing = true;
      this.probe(admin)
        .catch((error: unknown) => log.debug({ err: error }, "probe failed"))
        .finally(() => {
          probing = false;
        });
    }, PROBE_MS);
    // Source mode: a transaction may become committable with no new record (its timeout ran out).
    const tick = this.source
      ? setInterval(() => {
          const stream = this.stream;
          if (stream) this.streamed(stream, stop, () => this.finishStream(stream)).catch(fail);
          else if (this.source!.size > 0) this.serialized(() => this.drain(stop)).catch(fail);
        }, 1000)
      : undefined;
    try {
      await consumer.connect();
      await consumer.subscribe({ topics, fromBeginning: config.kafka.fromBeginning });
      await consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        eachBatch: (payload) => this.eachBatch(payload, stop, fail),
      });
      log.info(
        { groupId: config.kafka.groupId, topics: topics.length, transactional: config.apply.transactional },
        "materializer running",
      );
      await stopped;
    } finally {
      clearInterval(watch);
      clearInterval(probe);
      clearInterval(tick);
      clearInterval(ids);
      this.abortStream();
      await consumer.disconnect().catch(() => undefined);
      await this.inflight;
      await this.serial.catch(() => undefined);
    }
    if (fatal) throw fatal;
  }

  /**
   * Reads the assigned partitions' high-water marks (lag for /readyz and /metrics) and, when the
   * target has been idle, asks it for the stored positions: an outage shows even with no traffic.
   * A server that hangs rather than refuses (frozen, partitioned) is reported after PROBE_WAIT_MS.
   */
  private async probe(admin: Admin): Promise<void> {
    const { metrics, config, target, classify } = this.options;
    try {
      await within(PROBE_WAIT_MS, this.readEnds(admin));
      this.health.kafka("admin", undefined);
    } catch (error) {
      this.health.kafka("admin", problem(error));
    }
    if (Date.now() - this.lastTargetAnswer >= PROBE_MS) {
      try {
        const stored = await within(
          PROBE_WAIT_MS,
          this.serialized(() => target.readPositions(config.kafka.groupId)),
        );
        this.lastTargetAnswer = Date.now();
        this.health.target(undefined);
        for (const p of stored) {
          if (this.assignment[p.topic]?.includes(p.partition))
            this.health.position(p.topic, p.partition, BigInt(p.offset));
        }
      } catch (error) {
        this.health.target(error instanceof NoAnswer ? error.message : targetProblem(classify(error), error));
      }
    }
    if (metrics) {
      metrics.consumerLag.reset();
      for (const [id, lag] of this.health.lagRecords()) {
        const at = id.lastIndexOf("[");
        metrics.consumerLag.set({ topic: id.slice(0, at), partition: id.slice(at + 1, -1) }, Number(lag));
      }
    }
  }

  private async readEnds(admin: Admin): Promise<void> {
    for (const [topic, partitions] of Object.entries(this.assignment)) {
      for (const p of await admin.fetchTopicOffsets(topic)) {
        if (partitions.includes(p.partition)) this.health.end(topic, p.partition, BigInt(p.high));
      }
    }
  }

  private serialized<T>(work: () => Promise<T>): Promise<T> {
    const run = this.serial.then(work, work);
    this.serial = run.catch(() => undefined);
    return run;
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

  private async eachBatch(
    payload: EachBatchPayload,
    stop: AbortSignal,
    fail: (error: unknown) => void,
  ): Promise<void> {
    const { batch, heartbeat, resolveOffset, isRunning, isStale } = payload;
    const { topic, partition } = batch;
    if (batch.messages.length === 0) return;
    const key = partitionKey(topic, partition);
    this.health.end(topic, partition, BigInt(batch.highWatermark));
    if (!this.fresh) {
      // Serialized: an apply still in flight from before a rebalance moves the positions first.
      await this.retrying(() => this.serialized(() => this.loadPositions()), stop, heartbeat);
      this.fresh = true;
    }
    const stored = this.positions.get(key);
    const ahead = this.dispatched.get(key);
    const first = BigInt(batch.firstOffset()!);
    if (ahead === undefined && stored !== undefined && stored < first && !this.sought.has(key)) {
      // The database is behind Kafka's group offset (e.g. the shadow was restored): go back once.
      this.sought.add(key);
      this.consumer!.seek({ topic, partition, offset: stored.toString() });
      return;
    }
    const mapper = this.mapperFor(topic);
    const isTransactionTopic =
      this.source !== undefined && topic === this.options.config.apply.transactionTopic;
    if (!mapper && !isTransactionTopic) return;
    // Below `floor`: applied already, handed to an apply, or (source mode) held in memory.
    const floor = this.held.get(key) ?? ahead ?? stored;
    const records: KafkaRecord[] = batch.messages
      .filter((m) => floor === undefined || BigInt(m.offset) >= floor)
      .map((m) => ({
        topic,
        partition,
        offset: m.offset,
        key: m.key,
        value: m.value,
        headers: headersRead(m.headers),
      }));
    if (records.length === 0) {
      resolveOffset(batch.lastOffset());
      return;
    }
    // Fetched before a seek (a stream's cut or its failure): it is fetched again from there.
    if (this.source && (isStale() || this.stream?.cuts.has(key))) return;
    const items = await this.prepare(records, mapper);
    if (this.source) {
      const stream = this.stream;
      if (stream) {
        await this.streamed(stream, stop, () => this.feed(stream, key, items, resolveOffset));
        await heartbeat();
        return;
      }
      this.source.add(items);
      this.held.set(key, BigInt(records.at(-1)!.offset) + 1n);
      resolveOffset(batch.lastOffset());
      await this.serialized(() => this.drain(stop, heartbeat));
      if (this.source.heldBytes > this.options.config.apply.maxHeldBytes && !stop.aborted)
        await this.startStream(stop);
      await heartbeat();
      return;
    }
    await this.inflight;
    // The apply before this one failed and sought the partition back, or the consumer stops.
    if (stop.aborted || !isRunning() || isStale()) return;
    // Resolved before it is applied, so that kafkajs fetches the next batch meanwhile; the
    // target's positions stay the truth, and a failed apply seeks back to them.
    resolveOffset(batch.lastOffset());
    const from = records[0]!.offset;
    const next = BigInt(batch.lastOffset()) + 1n;
    this.dispatched.set(key, next);
    const owned = () => !stop.aborted && isRunning() && !isStale();
    this.inflight = this.applyBatch(items, key, stop, heartbeat, owned).then(
      () => {
        if (this.dispatched.get(key) === next) this.dispatched.delete(key);
      },
      (error: unknown) => {
        this.dispatched.delete(key);
        if (stop.aborted) return;
        if (!kafkaOutage(error) && owned()) return fail(error);
        // A heartbeat found the group rebalancing, or the partition was sought or is being
        // revoked: the records from the target's position on are fetched again.
        const at = this.positions.get(key) ?? from;
        try {
          this.consumer?.seek({ topic, partition, offset: at.toString() });
        } catch (seekError) {
          // Not ours any more (revoked): its next owner reads the position from the target.
          this.options.log.debug(
            { err: seekError, topic, partition },
            "seek after an interrupted apply failed",
          );
        }
        this.options.log.debug({ err: error, topic, partition }, "apply interrupted; fetching again");
      },
    );
  }

  /**
   * Decodes and maps in slices, letting the apply in flight take its replies from the target
   * between them: decoding the next batch overlaps with the target's work on this one.
   */
  private async prepare(records: KafkaRecord[], mapper: Mapper | undefined): Promise<Item[]> {
    const items: Item[] = [];
    let turned = performance.now();
    for (let start = 0, end = 0; start < records.length; start = end) {
      if (start > 0 && performance.now() - turned >= DECODE_TURN_MS) {
        await setImmediatePromise();
        turned = performance.now();
      }
      end = sliceEnd(records, start);
      for (const item of prepareItems(records.slice(start, end), this.decoder, mapper)) items.push(item);
    }
    return items;
  }

  /** One batch's items in chunks of apply.batchSize, Kafka's group offsets following each. */
  private async applyBatch(
    items: Item[],
    key: string,
    stop: AbortSignal,
    heartbeat: () => Promise<void>,
    owned: () => boolean,
  ): Promise<void> {
    const { batchSize } = this.options.config.apply;
    for (let start = 0; start < items.length; start += batchSize) {
      await this.serialized(() => this.apply(items.slice(start, start + batchSize), stop, heartbeat, owned));
      await this.commitOffsets([key]);
      await heartbeat();
    }
  }

  /** Source mode: applies what the held transactions allow, as one database transaction. */
  private async drain(stop: AbortSignal, heartbeat?: () => Promise<void>): Promise<void> {
    const { items, givenUp } = this.source!.take();
    for (const tx of givenUp) {
      this.stats.incompleteTransactions++;
      this.options.log.warn(
        { transaction: tx.group, missing: tx.missing },
        "source transaction committed without all its events",
      );
    }
    if (items.length === 0) return;
    await this.apply(items, stop, heartbeat, () => true);
    const keys = new Set(items.map((i) => partitionKey(i.record.topic, i.record.partition)));
    await this.commitOffsets([...keys]);
  }

  /**
   * Source mode: the held transactions take more than apply.maxHeldBytes. They are written now
   * into one open target transaction, and their later events as they arrive (see Stream).
   */
  private async startStream(stop: AbortSignal): Promise<void> {
    const source = this.source!;
    const heldBytes = source.heldBytes;
    const { items, groups } = source.release();
    let over!: () => void;
    const released = new Promise<void>((resolve) => {
      over = resolve;
    });
    const stream: Stream = {
      groups,
      awaiting: new Set([...groups].filter((g) => source.awaitsEnd(g))),
      cuts: new Map(),
      from: new Map(),
      items: items.length,
      closing: false,
      over,
    };
    for (const item of items) {
      const key = partitionKey(item.record.topic, item.record.partition);
      if (!stream.from.has(key)) stream.from.set(key, BigInt(item.record.offset));
    }
    this.stream = stream;
    this.options.log.info(
      { heldBytes, transactions: groups.size, records: items.length },
      "held source transactions exceed apply.maxHeldBytes: writing them as they arrive, in one transaction",
    );
    await this.streamed(stream, stop, async () => {
      await this.serialized(() => resolveShapes(this.ctx, this.known, items));
      // The open transaction keeps the target session until the stream is over.
      const tx = await new Promise<StreamedTransaction | undefined>((resolve) => {
        this.serialized(() => {
          if (this.stream !== stream) {
            resolve(undefined);
            return Promise.resolve();
          }
          stream.tx = new StreamedTransaction(this.ctx, this.known, this.options.config.apply.batchSize);
          resolve(stream.tx);
          return released;
        }).catch(() => undefined);
      });
      if (!tx) return;
      await this.streamWrite(tx, items);
      await this.finishStream(stream);
    });
  }

  /** A batch of one partition while streaming: what the stream carries is written, the rest waits. */
  private async feed(
    stream: Stream,
    key: string,
    items: Item[],
    resolveOffset: (offset: string) => void,
  ): Promise<void> {
    const source = this.source!;
    const admitted: Item[] = [];
    const joined: string[] = [];
    for (const item of items) {
      // Committing: whatever comes now waits for the next round.
      if (stream.closing || !this.carries(stream, item, joined)) {
        this.cut(stream, key, item);
        break;
      }
      source.note(item);
      admitted.push(item);
    }
    for (const group of joined) {
      for (const [cutKey, cut] of stream.cuts) if (cut.group === group) this.resume(stream, cutKey);
    }
    if (admitted.length === 0) return;
    const last = admitted.at(-1)!.record.offset;
    if (!stream.from.has(key)) stream.from.set(key, BigInt(admitted[0]!.record.offset));
    this.held.set(key, BigInt(last) + 1n);
    resolveOffset(last);
    stream.items += admitted.length;
    // Opened before the first batch streams: startStream runs in the batch before.
    await this.streamWrite(stream.tx!, admitted);
    await this.finishStream(stream);
  }

  /** Whether the stream carries `item`; an END that joins the stream is added to `joined`. */
  private carries(stream: Stream, item: Item, joined: string[]): boolean {
    const group = item.transaction?.group;
    if (group === undefined || stream.groups.has(group) || this.source!.isFinished(group)) return true;
    // An END read while the stream still awaits one of its own: that transaction committed
    // earlier (ENDs arrive in commit order), and its events may sit before the stream's own.
    if (item.transaction!.counts === undefined || !this.awaitingEnd(stream)) return false;
    stream.groups.add(group);
    joined.push(group);
    return true;
  }

  private awaitingEnd(stream: Stream): boolean {
    for (const group of stream.awaiting) {
      if (this.source!.awaitsEnd(group)) return true;
      stream.awaiting.delete(group);
    }
    return false;
  }

  /** Stops a partition at `item`: paused, and fetched again from it when resumed. */
  private cut(stream: Stream, key: string, item: Item): void {
    const { topic, partition, offset } = item.record;
    stream.cuts.set(key, { topic, partition, offset: BigInt(offset), group: item.transaction?.group });
    this.held.set(key, BigInt(offset));
    this.consumer!.pause([{ topic, partitions: [partition] }]);
    this.consumer!.seek({ topic, partition, offset });
  }

  private resume(stream: Stream, key: string): void {
    const cut = stream.cuts.get(key);
    if (!cut) return;
    stream.cuts.delete(key);
    try {
      this.consumer?.resume([{ topic: cut.topic, partitions: [cut.partition] }]);
    } catch (error) {
      this.options.log.debug({ err: error, topic: cut.topic }, "resuming a partition failed");
    }
  }

  /** The target answered a write of `items` begun at `started`: health, metrics and stats. */
  private applied(items: Item[], result: ApplyResult, started: number): void {
    this.lastTargetAnswer = Date.now();
    this.health.target(undefined);
    observeApplied(this.observers, items, result, (performance.now() - started) / 1000);
    this.stats.applied += result.applied;
    this.stats.toCopy += result.toCopy;
    this.stats.lostInserts += result.lostInserts;
    this.stats.hidden += result.hidden;
  }

  private async streamWrite(tx: StreamedTransaction, items: Item[]): Promise<void> {
    const started = performance.now();
    this.health.applying(true);
    try {
      this.applied(items, await tx.write(items), started);
      // Its letters are reported when the stream commits: a rolled-back stream stores none.
    } finally {
      this.health.applying(false);
    }
  }

  /** Commits the stream once every transaction it carries is complete (or given up on). */
  private async finishStream(stream: Stream): Promise<void> {
    if (stream.closing || this.stream !== stream || !stream.tx) return;
    const givenUp = this.source!.settled(stream.groups);
    if (!givenUp) return;
    stream.closing = true;
    const positions = await stream.tx.commit();
    this.source!.finish(stream.groups);
    for (const p of positions) this.ctx.onCommitted(p.topic, p.partition, p.offset);
    if (stream.tx.setAside.length > 0) this.lettersWaiting = true;
    this.stats.batches++;
    this.streamAttempt = 0;
    for (const tx of givenUp) {
      this.stats.incompleteTransactions++;
      this.options.log.warn(
        { transaction: tx.group, missing: tx.missing },
        "source transaction committed without all its events",
      );
    }
    this.options.log.info(
      { transactions: stream.groups.size, records: stream.items },
      "streamed source transactions committed",
    );
    this.stream = undefined;
    for (const key of [...stream.cuts.keys()]) this.resume(stream, key);
    stream.over();
    await this.commitOffsets(positions.map((p) => partitionKey(p.topic, p.partition)));
    await this.relayLetters();
  }

  /**
   * Runs `work` on the stream; if it fails, the stream is rolled back and every partition it took
   * goes back to its stored position, to be fetched (and streamed) again: after a wait if the
   * failure may pass, after resolving table shapes if that is what it lacked. Others are fatal.
   */
  private async streamed(stream: Stream, stop: AbortSignal, work: () => Promise<void>): Promise<void> {
    try {
      await work();
    } catch (error) {
      if (this.stream !== stream) return;
      const { log, metrics } = this.options;
      const back = new Map(stream.from);
      for (const [key, cut] of stream.cuts) if (!back.has(key)) back.set(key, cut.offset);
      this.abortStream();
      await stream.tx?.ended;
      for (const [key, from] of back) {
        const [topic, partition] = key.split("\u0000") as [string, string];
        const offset = (this.positions.get(key) ?? from).toString();
        try {
          this.consumer?.seek({ topic, partition: Number(partition), offset });
        } catch (seekError) {
          log.debug({ err: seekError, topic, partition }, "seek after a failed stream failed");
        }
      }
      this.held.clear();
      this.source!.clear();
      if (stop.aborted) return;
      if (error instanceof NeedsShapes) {
        log.info("a streamed transaction met a new table shape: resolving it and starting again");
        await this.retrying(
          () => this.serialized(() => resolveShapes(this.ctx, this.known, error.items)),
          stop,
        );
        return;
      }
      const reason = error instanceof ShadowdbError ? error : this.options.classify(error);
      if (!reason.retriable) throw error;
      this.stats.retries++;
      metrics?.retries.inc({ code: reason.code });
      if (reason.code.startsWith("TARGET_")) this.health.target(problem(error));
      const delay = backoffDelay(this.streamAttempt++);
      log.warn({ err: error, delay: Math.round(delay) }, "streamed transaction failed; starting it again");
      await sleep(delay, stop);
      if (reason.code === "APPLY_FENCED") await this.serialized(() => this.loadPositions());
    }
  }

  /** Rolls the stream back (if any) and resumes what it paused; the caller refetches. */
  private abortStream(): void {
    const stream = this.stream;
    if (!stream) return;
    this.stream = undefined;
    for (const key of [...stream.cuts.keys()]) this.resume(stream, key);
    if (stream.tx) stream.tx.abort().then(stream.over, stream.over);
    else stream.over();
  }

  /** Applies items (of one partition or several), retrying what may pass with backoff. */
  private async apply(
    items: Item[],
    stop: AbortSignal,
    heartbeat: (() => Promise<void>) | undefined,
    owned: () => boolean,
  ): Promise<void> {
    const { log, metrics } = this.options;
    for (let attempt = 0; ; attempt++) {
      const started = performance.now();
      this.health.applying(true);
      try {
        this.applied(items, await applyItems(this.ctx, items), started);
        this.stats.batches++;
        // Letters were logged and counted as their commits went in (ctx.onDeadLetters).
        await this.relayLetters();
        return;
      } catch (error) {
        const retriable = error instanceof ShadowdbError && error.retriable;
        if (!retriable || stop.aborted || !owned()) throw error;
        this.stats.retries++;
        metrics?.retries.inc({ code: error.code });
        if (error.code.startsWith("TARGET_")) this.health.target(problem(error));
        const delay = backoffDelay(attempt);
        log.warn({ err: error, attempt, delay: Math.round(delay) }, "retrying batch");
        await sleep(delay, stop);
        await heartbeat?.();
        // Fenced: another instance moved the partition on; learn where it is before going on.
        if (error.code === "APPLY_FENCED") await this.loadPositions();
        // Part of the batch may have been committed record by record before the failure.
        items = items.filter((i) => {
          const next = this.positions.get(partitionKey(i.record.topic, i.record.partition));
          return next === undefined || BigInt(i.record.offset) >= next;
        });
        if (items.length === 0) return;
      } finally {
        this.health.applying(false);
      }
    }
  }

  /** `work` (a target read) retried with backoff while the target is away, until `stop`. */
  private async retrying<T>(work: () => Promise<T>, stop: AbortSignal, heartbeat?: () => Promise<void>) {
    for (let attempt = 0; ; attempt++) {
      try {
        const result = await work();
        this.health.target(undefined);
        return result;
      } catch (error) {
        const reason = this.options.classify(error);
        if (!reason.retriable || stop.aborted) throw error;
        this.health.target(targetProblem(reason, error));
        this.options.metrics?.retries.inc({ code: reason.code });
        await sleep(backoffDelay(attempt), stop);
        await heartbeat?.();
      }
    }
  }

  /** Kafka's group offsets, for lag tools; the target holds the truth, so a failure only waits. */
  private async commitOffsets(keys: string[]): Promise<void> {
    const offsets = keys.flatMap((key) => {
      const next = this.positions.get(key);
      const [topic, partition] = key.split("\u0000") as [string, string];
      return next === undefined ? [] : [{ topic, partition: Number(partition), offset: next.toString() }];
    });
    await this.consumer!.commitOffsets(offsets).catch((error: unknown) =>
      this.options.log.debug({ err: error }, "committing group offsets failed; the next commit catches up"),
    );
  }

  /** Sends stored dead letters to the topic store; on failure they wait for the next commit. */
  private async relayLetters(): Promise<void> {
    if (!this.relay || !this.lettersWaiting) return;
    try {
      await this.relay.flush();
      this.lettersWaiting = false;
    } catch (error) {
      this.options.log.warn({ err: error }, "sending dead letters to their topic failed; they stay stored");
    }
  }
}
