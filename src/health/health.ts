/**
 * What /healthz and /readyz answer, from what the materializer reports as it works. Health says
 * whether the process should be restarted (it failed, or an apply hangs); readiness whether the
 * shadow is current: Kafka and the target answer, the snapshot is in, lag is under the limit.
 * Outages make it not ready, never unhealthy: the materializer recovers by itself, and a restart
 * would only lose what it holds in memory.
 */
import type { SnapshotMarker } from "../decode/index.ts";
import { type PartitionId, partitionId } from "../source/partition.ts";

export interface HealthOptions {
  /** Readiness: the largest lag (now − source commit time of the last applied change) allowed. */
  readyLagMs: number;
  /** Health: an apply running longer than this means the loop is stuck. */
  stalledAfterMs: number;
  now?: () => number;
}

interface PartitionState {
  /** The next offset to apply, as stored in the target. */
  position?: bigint;
  /** Kafka's high-water mark: the next offset to be written. */
  end?: bigint;
  /** Source commit time of the last applied change, ms since the epoch. */
  appliedSourceMs?: number;
  snapshotting: boolean;
}

/** Debezium marks snapshot records; until a partition's last applied one is past these, it is loading. */
const loading = new Set<SnapshotMarker>(["first", "first_in_data_collection", "true"]);

export class Health {
  private readonly now: () => number;
  private readonly partitions = new Map<PartitionId, PartitionState>();
  private failure: string | undefined;
  /** Per part that talks to Kafka (the admin client, the consumer): what is wrong, if anything. */
  private readonly kafkaProblems = new Map<string, string>([["admin", "not connected to Kafka yet"]]);
  private targetProblem: string | undefined = "the target database has not answered yet";
  private applyingSince: number | undefined;
  private consuming = false;

  constructor(private readonly options: HealthOptions) {
    this.now = options.now ?? Date.now;
  }

  private partition(topic: string, partition: number): PartitionState {
    const id = partitionId(topic, partition);
    let state = this.partitions.get(id);
    if (!state) {
      state = { snapshotting: false };
      this.partitions.set(id, state);
    }
    return state;
  }

  failed(reason: string): void {
    this.failure = reason;
  }

  kafka(part: "admin" | "consumer", problem: string | undefined): void {
    if (problem === undefined) this.kafkaProblems.delete(part);
    else this.kafkaProblems.set(part, problem);
  }

  target(problem: string | undefined): void {
    this.targetProblem = problem;
  }

  /** The consumer joined its group: partitions (possibly none, on a standby) are known. */
  assigned(partitions: { topic: string; partition: number }[]): void {
    this.consuming = true;
    const keep = new Set(partitions.map((p) => partitionId(p.topic, p.partition)));
    for (const id of this.partitions.keys()) if (!keep.has(id)) this.partitions.delete(id);
    for (const p of partitions) this.partition(p.topic, p.partition);
  }

  applying(started: boolean): void {
    this.applyingSince = started ? this.now() : undefined;
  }

  end(topic: string, partition: number, end: bigint): void {
    this.partition(topic, partition).end = end;
  }

  position(topic: string, partition: number, next: bigint): void {
    this.partition(topic, partition).position = next;
  }

  /** The last change applied in a partition: its source commit time and snapshot marker. */
  applied(topic: string, partition: number, sourceMs: number | undefined, snapshot: SnapshotMarker): void {
    const state = this.partition(topic, partition);
    if (sourceMs !== undefined) state.appliedSourceMs = sourceMs;
    state.snapshotting = loading.has(snapshot);
  }

  /** Records behind, per partition, where both ends are known. */
  lagRecords(): Map<PartitionId, bigint> {
    const lag = new Map<PartitionId, bigint>();
    for (const [id, s] of this.partitions) {
      if (s.end !== undefined && s.position !== undefined)
        lag.set(id, s.end > s.position ? s.end - s.position : 0n);
    }
    return lag;
  }

  /** How far behind the source a partition is in time: 0 when caught up. */
  private lagMs(state: PartitionState): number | undefined {
    if (state.end === undefined || state.position === undefined) return undefined;
    if (state.position >= state.end) return 0;
    if (state.appliedSourceMs === undefined) return undefined;
    return Math.max(0, this.now() - state.appliedSourceMs);
  }

  /** Why the process should be restarted; empty when it should not. */
  healthReasons(): string[] {
    const reasons: string[] = [];
    if (this.failure) reasons.push(`the materializer stopped: ${this.failure}`);
    const stalled = this.applyingFor();
    if (stalled !== undefined && stalled > this.options.stalledAfterMs)
      reasons.push(`an apply has been running for ${Math.round(stalled / 1000)} s`);
    return reasons;
  }

  /** Why the shadow is not current; empty when it is. */
  readyReasons(): string[] {
    const reasons = this.healthReasons();
    for (const problem of new Set(this.kafkaProblems.values())) reasons.push(`kafka: ${problem}`);
    if (this.targetProblem) reasons.push(`target: ${this.targetProblem}`);
    if (!this.consuming && this.kafkaProblems.size === 0) reasons.push("waiting for a partition assignment");
    const { readyLagMs } = this.options;
    const waiting = this.applyingFor();
    if (waiting !== undefined && waiting > readyLagMs)
      reasons.push(`target: an apply has been waiting for ${Math.round(waiting / 1000)} s`);
    for (const [id, state] of this.partitions) {
      if (state.snapshotting) reasons.push(`${id}: the initial snapshot is still loading`);
      const lag = this.lagMs(state);
      if (lag === undefined && state.end !== undefined && state.end > (state.position ?? 0n))
        reasons.push(`${id}: not applied anything yet, ${state.end - (state.position ?? 0n)} records behind`);
      else if (lag !== undefined && lag > readyLagMs)
        reasons.push(`${id}: ${Math.round(lag / 1000)} s behind the source (limit ${readyLagMs / 1000} s)`);
    }
    return reasons;
  }

  private applyingFor(): number | undefined {
    return this.applyingSince === undefined ? undefined : this.now() - this.applyingSince;
  }

  /** For /status: per partition, position, end and lag. */
  snapshot(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [id, s] of this.partitions) {
      out[id] = {
        position: s.position?.toString(),
        end: s.end?.toString(),
        lagRecords:
          s.end !== undefined && s.position !== undefined ? (s.end - s.position).toString() : undefined,
        lagMs: this.lagMs(s),
        snapshotting: s.snapshotting,
      };
    }
    return out;
  }
}
