/**
 * What health learns without traffic: the assigned partitions' high-water marks (lag for /readyz
 * and /metrics) and, when the target has been idle, whether it answers a read of the stored
 * positions, so that an outage shows even when nothing is applied. A server that hangs rather
 * than refuses (frozen, partitioned) is reported after PROBE_WAIT_MS.
 */
import type { Admin } from "kafkajs";
import type { Logger } from "../log.ts";
import type { Metrics } from "../metrics/metrics.ts";
import { splitPartitionId } from "../source/partition.ts";
import type { ClassifiedError, Position } from "../target/dialect.ts";
import type { Health } from "./health.ts";
import { NoAnswer, PROBE_WAIT_MS, problem, targetProblem, within } from "./outage.ts";

/** How often high-water marks are read, and an idle target is asked whether it answers. */
export const PROBE_MS = 5000;

export interface ProbeOptions {
  health: Health;
  log: Logger;
  metrics?: Metrics;
  classify: (error: unknown) => ClassifiedError;
  /** The target's stored positions, read in turn with the applies (they share its session). */
  readPositions: () => Promise<Position[]>;
  /** The partitions this instance owns, by topic. */
  assignment: () => Record<string, number[]>;
}

export class Probe {
  /** When the target last answered (an apply or a probe), ms since the epoch. */
  private lastTargetAnswer = 0;
  private probing = false;

  constructor(private readonly options: ProbeOptions) {}

  /** The target answered an apply: no need to ask it for a while. */
  answered(): void {
    this.lastTargetAnswer = Date.now();
  }

  /** Starts a probe unless the last one is still waiting for an answer. */
  start(admin: Admin): void {
    if (this.probing) return;
    this.probing = true;
    this.run(admin)
      .catch((error: unknown) => this.options.log.debug({ err: error }, "probe failed"))
      .finally(() => {
        this.probing = false;
      });
  }

  private async run(admin: Admin): Promise<void> {
    const { health, metrics, classify } = this.options;
    try {
      await within(PROBE_WAIT_MS, this.readEnds(admin));
      health.kafka("admin", undefined);
    } catch (error) {
      health.kafka("admin", problem(error));
    }
    if (Date.now() - this.lastTargetAnswer >= PROBE_MS) {
      try {
        const stored = await within(PROBE_WAIT_MS, this.options.readPositions());
        this.lastTargetAnswer = Date.now();
        health.target(undefined);
        const assignment = this.options.assignment();
        for (const p of stored) {
          if (assignment[p.topic]?.includes(p.partition))
            health.position(p.topic, p.partition, BigInt(p.offset));
        }
      } catch (error) {
        health.target(error instanceof NoAnswer ? error.message : targetProblem(classify(error), error));
      }
    }
    if (metrics) {
      metrics.consumerLag.reset();
      for (const [id, lag] of health.lagRecords()) {
        const { topic, partition } = splitPartitionId(id);
        metrics.consumerLag.set({ topic, partition: String(partition) }, Number(lag));
      }
    }
  }

  private async readEnds(admin: Admin): Promise<void> {
    for (const [topic, partitions] of Object.entries(this.options.assignment())) {
      for (const p of await admin.fetchTopicOffsets(topic)) {
        if (partitions.includes(p.partition)) this.options.health.end(topic, p.partition, BigInt(p.high));
      }
    }
  }
}
