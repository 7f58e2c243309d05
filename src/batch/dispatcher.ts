/**
 * What becomes of each fetched Kafka batch: the records past the partition's floor (applied, handed
 * off or held already) are decoded and mapped, then either handed to one apply at a time (while it
 * runs, kafkajs fetches the next batch and the decoder works on it) or, in source mode, held until
 * their source transactions are complete (and streamed past apply.maxHeldBytes).
 */
import type { EachBatchPayload } from "kafkajs";
import type { Positions } from "../apply/positions.ts";
import type { Serial } from "../apply/serial.ts";
import type { ApplyStep } from "../apply/step.ts";
import type { StreamDriver } from "../apply/stream-driver.ts";
import type { KafkaRecord, RecordDecoder } from "../decode/index.ts";
import type { Health } from "../health/health.ts";
import { kafkaOutage } from "../health/outage.ts";
import type { Logger } from "../log.ts";
import type { Mapper } from "../map/mapper.ts";
import type { KafkaSource } from "../source/consumer.ts";
import { type PartitionId, partitionId } from "../source/partition.ts";
import type { Item } from "./items.ts";
import { headersRead, prepareSliced } from "./prepare.ts";
import type { Incomplete, SourceTransactions } from "./source-transactions.ts";

export interface DispatcherOptions {
  decoder: RecordDecoder;
  mapperFor: (topic: string) => Mapper | undefined;
  positions: Positions;
  source: KafkaSource;
  step: ApplyStep;
  serial: Serial;
  health: Health;
  log: Logger;
  /** Items per apply (apply.batchSize). */
  batchSize: number;
  /** Reads the stored positions, retried while the target is away. */
  reload: (stop: AbortSignal, heartbeat: () => Promise<void>) => Promise<void>;
  /** Source mode: the metadata topic, the held transactions and their stream. */
  transactionTopic?: string;
  transactions?: SourceTransactions;
  streams?: StreamDriver;
  maxHeldBytes: number;
  givenUp: (transactions: Incomplete[]) => void;
}

export class Dispatcher {
  /** The apply the last batch handed off, settled (its failure is handled where it is started). */
  private inflight: Promise<void> = Promise.resolve();

  constructor(private readonly options: DispatcherOptions) {}

  /** Resolves once the apply handed off last has ended. */
  settled(): Promise<void> {
    return this.inflight;
  }

  async eachBatch(
    payload: EachBatchPayload,
    stop: AbortSignal,
    fail: (error: unknown) => void,
  ): Promise<void> {
    const { positions, source, transactions, streams, serial, log } = this.options;
    const { batch, heartbeat, resolveOffset, isRunning, isStale } = payload;
    const { topic, partition } = batch;
    if (batch.messages.length === 0) return;
    const id = partitionId(topic, partition);
    this.options.health.end(topic, partition, BigInt(batch.highWatermark));
    if (!positions.fresh) {
      // Serialized: an apply still in flight from before a rebalance moves the positions first.
      await this.options.reload(stop, heartbeat);
      positions.fresh = true;
    }
    const back = positions.seekBack(id, BigInt(batch.firstOffset()!));
    if (back !== undefined) {
      // The database is behind Kafka's group offset (e.g. the shadow was restored): go back once.
      source.seek(topic, partition, back);
      return;
    }
    const mapper = this.options.mapperFor(topic);
    if (!mapper && !(transactions && topic === this.options.transactionTopic)) return;
    const floor = positions.floor(id);
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
    if (transactions && (isStale() || streams?.cutAt(id))) return;
    const items = await prepareSliced(records, this.options.decoder, mapper);
    if (transactions) {
      if (streams?.active) {
        await streams.feed(id, items, resolveOffset, stop);
        await heartbeat();
        return;
      }
      transactions.add(items);
      positions.hold(id, BigInt(records.at(-1)!.offset) + 1n);
      resolveOffset(batch.lastOffset());
      await serial.run(() => this.drain(stop, heartbeat));
      if (transactions.heldBytes > this.options.maxHeldBytes && !stop.aborted) await streams?.start(stop);
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
    positions.dispatch(id, next);
    const owned = () => !stop.aborted && isRunning() && !isStale();
    this.inflight = this.applyBatch(items, id, stop, heartbeat, owned).then(
      () => positions.settled(id, next),
      (error: unknown) => {
        positions.settled(id);
        if (stop.aborted) return;
        if (!kafkaOutage(error) && owned()) return fail(error);
        // A heartbeat found the group rebalancing, or the partition was sought or is being
        // revoked: the records from the target's position on are fetched again.
        try {
          source.seek(topic, partition, positions.next(id) ?? from);
        } catch (seekError) {
          // Not ours any more (revoked): its next owner reads the position from the target.
          log.debug({ err: seekError, topic, partition }, "seek after an interrupted apply failed");
        }
        log.debug({ err: error, topic, partition }, "apply interrupted; fetching again");
      },
    );
  }

  /** One batch's items in chunks of apply.batchSize, Kafka's group offsets following each. */
  private async applyBatch(
    items: Item[],
    id: PartitionId,
    stop: AbortSignal,
    heartbeat: () => Promise<void>,
    owned: () => boolean,
  ): Promise<void> {
    const { batchSize, serial, step, source, positions } = this.options;
    for (let start = 0; start < items.length; start += batchSize) {
      const chunk = items.slice(start, start + batchSize);
      await serial.run(() => step.apply(chunk, { signal: stop, heartbeat, owned }));
      await source.commitOffsets(positions, [id]);
      await heartbeat();
    }
  }

  /** Source mode: applies what the held transactions allow, as one database transaction. */
  async drain(stop: AbortSignal, heartbeat?: () => Promise<void>): Promise<void> {
    const { items, givenUp } = this.options.transactions!.take();
    this.options.givenUp(givenUp);
    if (items.length === 0) return;
    await this.options.step.apply(items, { signal: stop, heartbeat });
    const ids = new Set(items.map((i) => partitionId(i.record.topic, i.record.partition)));
    await this.options.source.commitOffsets(this.options.positions, ids);
  }
}
