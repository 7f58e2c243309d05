/**
 * The main job, wired: the Kafka source's batches are decoded and mapped (batch/), applied
 * (apply/) and kept equal to the sources in the target. Positions live in the target, written in
 * the same transaction as the rows they produced; Kafka's group offsets follow after each commit,
 * for lag tooling only. One apply at a time: while it runs, kafkajs fetches the next batch and
 * the decoder works on it.
 *
 * Longer than most files: it is the one place where the stages' parts are made and handed to each
 * other, and the wiring reads best as one picture.
 */
import type { Kafka } from "kafkajs";
import type { ApplyResult } from "../apply/apply.ts";
import type { ApplyContext } from "../apply/context.ts";
import { DeadLetterRelay } from "../apply/dead-letter-relay.ts";
import { type Observers, observeApplied, reportApplied, reportSetAside } from "../apply/observe.ts";
import { Positions } from "../apply/positions.ts";
import { Serial } from "../apply/serial.ts";
import { ApplyStep, reloadPositions } from "../apply/step.ts";
import { StreamDriver } from "../apply/stream-driver.ts";
import { type ReadRetry, retryingRead } from "../apply/target-reads.ts";
import { Dispatcher } from "../batch/dispatcher.ts";
import type { Item } from "../batch/items.ts";
import { decoderFor } from "../batch/prepare.ts";
import { type Incomplete, SourceTransactions } from "../batch/source-transactions.ts";
import { type Config, resolveTable } from "../config/index.ts";
import { Health } from "../health/health.ts";
import { problem } from "../health/outage.ts";
import { PROBE_MS, Probe } from "../health/probe.ts";
import { untilAnswers } from "../health/until-answers.ts";
import type { Logger } from "../log.ts";
import { Mappers } from "../map/mappers.ts";
import type { Metrics } from "../metrics/metrics.ts";
import { KafkaSource } from "../source/consumer.ts";
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
  readonly health: Health;
  private readonly tables: TargetTables;
  private readonly mappers: Mappers;
  private readonly positions: Positions;
  private readonly ctx: ApplyContext;
  private readonly observers: Observers;
  private readonly source: KafkaSource;
  private readonly probe: Probe;
  private readonly step: ApplyStep;
  /** Source mode: records are held until their transactions are complete... */
  private readonly transactions: SourceTransactions | undefined;
  /** ...and past apply.maxHeldBytes written as they arrive. */
  private readonly streams: StreamDriver | undefined;
  private relay: DeadLetterRelay | undefined;
  private lettersWaiting = false;
  private readonly serial = new Serial();
  /** Target reads that must succeed: retried while the target is away, shown in health. */
  private readonly reads: ReadRetry;
  private readonly dispatcher: Dispatcher;

  constructor(private readonly options: MaterializerOptions) {
    const { config, target, classify, log, metrics } = options;
    this.mappers = new Mappers(config);
    this.health = new Health({
      readyLagMs: config.http.readyLagMs,
      stalledAfterMs: config.http.stalledAfterMs,
    });
    const { enabled, idHeadroom } = config.overlay;
    this.tables = new TargetTables(target, log, enabled ? { idHeadroom: BigInt(idHeadroom) } : undefined, {
      follow: config.schema.follow,
      onDecision: (table, e) => metrics?.schemaDecisions.inc({ table, action: e.action }),
      retriable: (error) => classify(error).retriable,
    });
    this.reads = { classify, health: this.health, metrics };
    this.positions = new Positions({
      onStored: (topic, partition, next) => this.health.position(topic, partition, next),
    });
    this.ctx = {
      target,
      classify,
      tables: this.tables,
      groupId: config.kafka.groupId,
      mappingFor: (topic) => this.mappers.for(topic)?.mapping,
      onError: config.onError,
      overlay: config.overlay.enabled,
      positions: this.positions,
      onDeadLetters: (setAside) => {
        reportSetAside(setAside, log, this.stats, metrics);
        this.lettersWaiting = true;
      },
    };
    this.observers = {
      health: this.health,
      metrics,
      tableOf: (topic) => {
        const table = this.mappers.for(topic)?.mapping.table;
        return table && `${table.schema}.${table.name}`;
      },
    };
    this.step = new ApplyStep(this.ctx, log, {
      applying: (running) => this.health.applying(running),
      applied: async (items, result, started) => {
        this.applied(items, result, started);
        this.stats.batches++;
        // Letters were logged and counted as their commits went in (ctx.onDeadLetters).
        await this.relayLetters();
      },
      retrying: (error) => {
        this.stats.retries++;
        metrics?.retries.inc({ code: error.code });
        if (error.code.startsWith("TARGET_")) this.health.target(problem(error));
      },
    });
    const { transactional, transactionTopic, transactionTimeoutMs } = config.apply;
    const sourceMode = transactional === "source" && transactionTopic !== undefined;
    this.source = new KafkaSource({
      config,
      kafka: options.kafka,
      log,
      health: this.health,
      transactionTopic: sourceMode ? transactionTopic : undefined,
    });
    this.probe = new Probe({
      health: this.health,
      log,
      metrics,
      classify,
      readPositions: () => this.serial.run(() => target.readPositions(config.kafka.groupId)),
      assignment: () => this.source.assignment,
    });
    if (sourceMode) {
      // Debezium names a collection's topic <prefix>.<collection>, and the metadata topic <prefix>.transaction.
      const prefix = transactionTopic.slice(0, transactionTopic.lastIndexOf(".") + 1);
      this.transactions = new SourceTransactions({
        consumes: (collection) => resolveTable(config, `${prefix}${collection}`) !== undefined,
        timeoutMs: transactionTimeoutMs,
      });
      this.streams = new StreamDriver({
        ctx: this.ctx,
        known: { columns: new WeakSet(), topics: new Set() },
        chunkSize: config.apply.batchSize,
        transactions: this.transactions,
        positions: this.positions,
        source: this.source,
        health: this.health,
        log,
        metrics,
        stats: this.stats,
        serial: this.serial,
        retrying: (work, stop) => retryingRead(this.reads, work, stop),
        answered: () => this.answered(),
        applied: (summary) => reportApplied(this.observers, summary, this.stats),
        givenUp: (given) => this.givenUp(given),
        committed: async (ids, letters) => {
          if (letters) this.lettersWaiting = true;
          await this.source.commitOffsets(this.positions, ids);
          await this.relayLetters();
        },
      });
    }
    this.dispatcher = new Dispatcher({
      decoder: decoderFor(config),
      mapperFor: (topic) => this.mappers.for(topic),
      positions: this.positions,
      source: this.source,
      step: this.step,
      serial: this.serial,
      health: this.health,
      log,
      batchSize: config.apply.batchSize,
      reload: (stop, heartbeat) =>
        retryingRead(this.reads, () => this.serial.run(() => reloadPositions(this.ctx)), stop, heartbeat),
      transactionTopic: sourceMode ? transactionTopic : undefined,
      transactions: this.transactions,
      streams: this.streams,
      maxHeldBytes: config.apply.maxHeldBytes,
      givenUp: (given) => this.givenUp(given),
    });
  }

  /** The partitions this instance owns since the last rebalance, by topic (for status and tests). */
  get assignment(): Record<string, number[]> {
    return this.source.assignment;
  }

  /** The topics the running consumer reads. */
  get topics(): string[] {
    return this.source.topics;
  }

  /** What `GET /status` shows: where this instance is and what it has done. */
  status(): Record<string, unknown> {
    const { config } = this.options;
    return {
      groupId: config.kafka.groupId,
      transactional: config.apply.transactional,
      overlay: config.overlay.enabled,
      topics: this.topics,
      assignment: this.assignment,
      positions: this.positions.snapshot(),
      stats: { ...this.stats },
      heldForTransactions: this.transactions?.size ?? 0,
      heldBytes: this.transactions?.heldBytes ?? 0,
      streamedTransaction: this.streams?.status(),
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
    const { config, kafka, target } = this.options;
    const admin = kafka.admin();
    const producer =
      config.deadLetter.kind === "topic"
        ? kafka.producer({ allowAutoTopicCreation: true, idempotent: true, maxInFlightRequests: 1 })
        : undefined;
    try {
      const answering = { health: this.health, log: this.options.log, classify: this.options.classify };
      await untilAnswers("target", signal, answering, () => target.prepare());
      await untilAnswers("kafka", signal, answering, async () => {
        await admin.connect();
        await producer?.connect();
      });
      if (producer && config.deadLetter.kind === "topic") {
        const { topic } = config.deadLetter;
        this.relay = new DeadLetterRelay({ target, producer, topic, groupId: config.kafka.groupId });
        this.lettersWaiting = true;
        await this.relayLetters();
      }
      await this.source.run(admin, signal, {
        eachBatch: (payload, stop, fail) => this.dispatcher.eachBatch(payload, stop, fail),
        rebalanced: () => {
          this.positions.reassigned();
          this.streams?.abort();
          this.transactions?.clear();
        },
        timers: (stop, fail) => this.timers(admin, stop, fail),
        stopping: () => this.streams?.abort(),
        settled: async () => {
          await this.dispatcher.settled();
          await this.serial.settled();
        },
      });
    } catch (error) {
      this.health.failed(problem(error));
      throw error;
    } finally {
      await producer?.disconnect().catch(() => undefined);
      await admin.disconnect().catch(() => undefined);
      await target.close();
    }
  }

  /** What runs beside a consumer: the id headroom check, the probe, source mode's timer. */
  private timers(admin: Parameters<Probe["start"]>[0], stop: AbortSignal, fail: (error: unknown) => void) {
    const { config, log } = this.options;
    const ids = config.overlay.enabled
      ? setInterval(() => {
          this.serial
            .run(() => this.tables.checkIds())
            .catch((error: unknown) =>
              log.warn({ err: error }, "checking the shadow's id headroom failed; trying again later"),
            );
        }, config.overlay.idCheckMs)
      : undefined;
    const probe = setInterval(() => this.probe.start(admin), PROBE_MS);
    // Source mode: a transaction may become committable with no new record (its timeout ran out).
    const tick = this.transactions
      ? setInterval(() => {
          if (this.streams?.active) this.streams.tick(stop).catch(fail);
          else if (this.transactions!.size > 0)
            this.serial.run(() => this.dispatcher.drain(stop)).catch(fail);
        }, 1000)
      : undefined;
    return () => {
      clearInterval(probe);
      clearInterval(tick);
      clearInterval(ids);
    };
  }

  private givenUp(transactions: Incomplete[]): void {
    for (const tx of transactions) {
      this.stats.incompleteTransactions++;
      this.options.log.warn(
        { transaction: tx.group, missing: tx.missing },
        "source transaction committed without all its events",
      );
    }
  }

  /** The target took a write: it answers. */
  private answered(): void {
    this.probe.answered();
    this.health.target(undefined);
  }

  /** The target committed a write of `items` begun at `started`: health, metrics and stats. */
  private applied(items: Item[], result: ApplyResult, started: number): void {
    this.answered();
    observeApplied(
      this.observers,
      items,
      result,
      (performance.now() - started) / 1000,
      Date.now(),
      this.stats,
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
