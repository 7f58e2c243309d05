/**
 * Debezium's Kafka signal channel and sink notification channel, as the shipped connector files
 * set them up (connectors/README.md, "Signals"): the signal topic is `<topic.prefix>.signals`,
 * the notification topic `<topic.prefix>.notifications`. A signal's key must be the connector's
 * topic.prefix (Debezium ignores others); its value asks for an incremental snapshot.
 */
import { randomUUID } from "node:crypto";
import type { TableName } from "../config/identifiers.ts";
import { type Config, resolveTable } from "../config/index.ts";

/** Where a Debezium topic `<prefix>.<schema or database>.<table>` comes from. */
export interface SourceTable {
  topic: string;
  /** The connector's topic.prefix (it may itself contain dots). */
  prefix: string;
  /** Debezium's data-collection id: `schema.table` (PostgreSQL) or `database.table` (MySQL). */
  collection: string;
}

export const signalTopic = (prefix: string): string => `${prefix}.signals`;
export const notificationTopic = (prefix: string): string => `${prefix}.notifications`;

/** Splits a table topic into the connector's prefix and the production table it carries. */
export function sourceOfTopic(topic: string): SourceTable | undefined {
  const parts = topic.split(".");
  if (parts.length < 3 || parts.some((p) => p === "")) return undefined;
  return { topic, prefix: parts.slice(0, -2).join("."), collection: parts.slice(-2).join(".") };
}

/**
 * The topics that the config routes to `table`, among `topics` (the cluster's, plus the config's
 * exact ones): by the same routing `run` uses, so a pattern's table is found as well.
 */
export function topicsForTable(config: Config, table: TableName, topics: readonly string[]): SourceTable[] {
  const found = new Map<string, SourceTable>();
  const candidates = new Set(topics);
  for (const entry of config.tables) if (entry.topic !== undefined) candidates.add(entry.topic);
  for (const topic of candidates) {
    const mapped = resolveTable(config, topic)?.table;
    if (mapped?.schema !== table.schema || mapped.name !== table.name) continue;
    const source = sourceOfTopic(topic);
    if (source) found.set(topic, source);
  }
  return [...found.values()].sort((a, b) => a.topic.localeCompare(b.topic));
}

export interface SignalMessage {
  id: string;
  key: string;
  value: string;
}

/** Debezium's execute-snapshot signal for one table, incremental: read in chunks while streaming. */
export function executeSnapshotSignal(source: SourceTable, id: string = randomUUID()): SignalMessage {
  return {
    id,
    key: source.prefix,
    value: JSON.stringify({
      id,
      type: "execute-snapshot",
      data: { "data-collections": [source.collection], type: "INCREMENTAL" },
    }),
  };
}

/** One notification of the sink channel (`aggregate_type` "Incremental Snapshot" for ours). */
export interface Notification {
  id: string;
  aggregateType: string;
  type: string;
  additionalData: Record<string, string>;
}

/**
 * A notification record's value: Connect's JSON with or without its schema envelope. Anything
 * else (a tombstone, another producer's record) is not a notification and is passed over.
 */
export function parseNotification(value: Buffer | string | null): Notification | undefined {
  if (value === null) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(value.toString());
  } catch {
    return undefined;
  }
  if (!parsed || typeof parsed !== "object") return undefined;
  const envelope = parsed as Record<string, unknown>;
  const body = "schema" in envelope && "payload" in envelope ? envelope.payload : envelope;
  if (!body || typeof body !== "object") return undefined;
  const { id, aggregate_type: aggregateType, type, additional_data: data } = body as Record<string, unknown>;
  if (typeof id !== "string" || typeof aggregateType !== "string" || typeof type !== "string")
    return undefined;
  const additionalData: Record<string, string> = {};
  if (data && typeof data === "object")
    for (const [k, v] of Object.entries(data)) if (typeof v === "string") additionalData[k] = v;
  return { id, aggregateType, type, additionalData };
}

/** What our snapshot's notifications so far come to. */
export type SnapshotProgress =
  | { state: "running"; rows?: string }
  | { state: "completed"; rows?: string }
  | { state: "failed"; reason: string };

/**
 * Folds one notification into the snapshot's state. Debezium reports the table's scan with a
 * status (SUCCEEDED and EMPTY are fine; NO_PRIMARY_KEY, SKIPPED, SQL_EXCEPTION and
 * UNKNOWN_SCHEMA mean the table was not read, though the snapshot as a whole still completes),
 * then COMPLETED once its last window has closed: every row read is on the table's topic.
 */
export function snapshotProgress(
  current: SnapshotProgress,
  notification: Notification,
  id: string,
): SnapshotProgress {
  if (notification.aggregateType !== "Incremental Snapshot" || notification.id !== id) return current;
  if (current.state !== "running") return current;
  const data = notification.additionalData;
  switch (notification.type) {
    case "TABLE_SCAN_COMPLETED": {
      const status = data.status ?? "SUCCEEDED";
      if (status !== "SUCCEEDED" && status !== "EMPTY")
        return {
          state: "failed",
          reason: `Debezium did not scan ${data.scanned_collection ?? "the table"}: ${status}`,
        };
      return data.total_rows_scanned === undefined
        ? current
        : { state: "running", rows: data.total_rows_scanned };
    }
    case "COMPLETED":
      return current.rows === undefined ? { state: "completed" } : { state: "completed", rows: current.rows };
    case "ABORTED":
      return {
        state: "failed",
        reason: "Debezium aborted the incremental snapshot (a stop-snapshot signal?)",
      };
    default:
      return current;
  }
}
