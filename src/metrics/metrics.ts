/**
 * shadowdb's Prometheus metrics (`GET /metrics`). Every name starts with `shadowdb_`, including the
 * process metrics prom-client collects, so one prefix finds them all. Labels are bounded by the
 * config: tables and topics come from the mapping, codes from the error catalogue.
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";

/** Called at scrape time for figures that are read, not counted (overlay sizes, lag, headroom). */
export type Collect = () => Promise<void> | void;

export class Metrics {
  readonly registry = new Registry();
  private readonly collectors: Collect[] = [];

  readonly changesApplied = new Counter({
    name: "shadowdb_changes_applied_total",
    help: "Row changes applied to the shadow, per target table and Debezium op (c, u, d, r, t).",
    labelNames: ["table", "op"] as const,
    registers: [this.registry],
  });

  readonly applySeconds = new Histogram({
    name: "shadowdb_apply_duration_seconds",
    help: "Time to apply one database transaction of changes, positions included.",
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });

  readonly batchRecords = new Histogram({
    name: "shadowdb_apply_batch_records",
    help: "Kafka records per applied database transaction.",
    buckets: [1, 10, 50, 100, 500, 1000, 2000, 5000, 10000, 50000],
    registers: [this.registry],
  });

  readonly sourceDelaySeconds = new Histogram({
    name: "shadowdb_source_delay_seconds",
    help: "From the source database's commit (Debezium source.ts_ms) to the change committed in the shadow; snapshot rows excluded.",
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
    registers: [this.registry],
  });

  readonly consumerLag = new Gauge({
    name: "shadowdb_consumer_lag_records",
    help: "Records between the stored position and the partition's high-water mark.",
    labelNames: ["topic", "partition"] as const,
    registers: [this.registry],
  });

  readonly deadLetters = new Counter({
    name: "shadowdb_dead_letters_total",
    help: "Records set aside as dead letters, per topic and error code.",
    labelNames: ["topic", "code"] as const,
    registers: [this.registry],
  });

  readonly retries = new Counter({
    name: "shadowdb_retries_total",
    help: "Applies retried after a retriable error, per error code.",
    labelNames: ["code"] as const,
    registers: [this.registry],
  });

  readonly overlayRouted = new Counter({
    name: "shadowdb_overlay_changes_total",
    help: "Production changes the overlay routed: to_copy (the shadow owns the key), lost_insert (a shadow insert won the race), hidden (kept aside by a unique conflict).",
    labelNames: ["outcome"] as const,
    registers: [this.registry],
  });

  readonly ownedRows = new Gauge({
    name: "shadowdb_overlay_owned_rows",
    help: "Keys the shadow owns, per overlaid table (hidden-by-conflict rows included).",
    labelNames: ["table"] as const,
    registers: [this.registry],
  });

  readonly hiddenRows = new Gauge({
    name: "shadowdb_overlay_hidden_rows",
    help: "Production rows kept aside because an overlay row holds one of their unique values, per table.",
    labelNames: ["table"] as const,
    registers: [this.registry],
  });

  readonly idHeadroom = new Gauge({
    name: "shadowdb_id_headroom",
    help: "Ids left between production's highest id and the shadow's next one, per table and column.",
    labelNames: ["table", "column"] as const,
    registers: [this.registry],
  });

  readonly schemaDecisions = new Counter({
    name: "shadowdb_schema_decisions_total",
    help: "Schema following's decisions (docs/schema.md), per table and action: added, widened, relaxed (followed), kept (the shadow's own change), drift (not followed), failed (the ALTER was refused).",
    labelNames: ["table", "action"] as const,
    registers: [this.registry],
  });

  readonly ready = new Gauge({
    name: "shadowdb_ready",
    help: "1 when /readyz answers 200: connected, snapshot loaded, lag under the limit.",
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: "shadowdb_" });
  }

  /** Adds a figure read at scrape time. A failing collector must not fail the scrape. */
  onCollect(collect: Collect): void {
    this.collectors.push(collect);
  }

  /** The exposition text; `onError` hears of collectors that failed (their gauges keep old values). */
  async scrape(onError: (error: unknown) => void): Promise<{ contentType: string; text: string }> {
    for (const collect of this.collectors) {
      try {
        await collect();
      } catch (error) {
        onError(error);
      }
    }
    return { contentType: this.registry.contentType, text: await this.registry.metrics() };
  }
}
