/**
 * `shadowdb status --config F [--format text|json]`: per partition the stored position against
 * the end offset (lag), per installed overlay its owned and hidden keys, the dead letters kept,
 * and the schema drift of the applied tables (production's recorded columns against the shadow's); read from the target and Kafka, no running instance needed. Exit 0 when everything was
 * read, 2 when the config, the target or Kafka fails.
 */
import { parseArgs } from "node:util";
import { kafkaErrorText, operatorAdmin } from "../check/kafka-admin.ts";
import {
  countTopicRecords,
  type PartitionStatus,
  readPartitions,
  readTargetStatus,
  type TargetStatus,
} from "../check/status.ts";
import { type Config, loadConfig, redactUrl } from "../config/index.ts";
import { ShadowdbError } from "../errors.ts";
import { loadDialect } from "../target/load.ts";
import { alignedTable } from "../text-table.ts";

const usage = "usage: shadowdb status --config FILE [--format text|json]";

interface StatusReport extends Omit<TargetStatus, "positions"> {
  groupId: string;
  partitions: PartitionStatus[];
}

export async function statusCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { config: { type: "string" }, format: { type: "string", default: "text" } },
  });
  if (!values.config || (values.format !== "json" && values.format !== "text")) {
    console.error(usage);
    return 2;
  }
  const config = await loadConfig(values.config);
  const dialect = await loadDialect(config.target.dialect);
  let fromTarget: TargetStatus;
  try {
    fromTarget = await readTargetStatus(config, dialect);
  } catch (error) {
    if (error instanceof ShadowdbError) throw error;
    const { code } = dialect.classify(error);
    throw new ShadowdbError(code, `${redactUrl(config.target.url)}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  let report: StatusReport;
  try {
    report = await withKafka(config, fromTarget);
  } catch (error) {
    console.error(`shadowdb status: kafka ${config.kafka.brokers.join(",")}: ${kafkaErrorText(error)}`);
    return 2;
  }
  console.log(values.format === "json" ? JSON.stringify(report, null, 2) : statusText(report));
  return 0;
}

async function withKafka(config: Config, fromTarget: TargetStatus): Promise<StatusReport> {
  const admin = operatorAdmin(config);
  await admin.connect();
  try {
    const { partitions, topics } = await readPartitions(config, admin, fromTarget.positions);
    const deadLetters =
      fromTarget.deadLetters.store === "topic"
        ? {
            ...fromTarget.deadLetters,
            onTopic: await countTopicRecords(admin, fromTarget.deadLetters.topic, topics),
          }
        : fromTarget.deadLetters;
    const { positions: _, ...rest } = fromTarget;
    return { groupId: config.kafka.groupId, ...rest, deadLetters, partitions };
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

function statusText(r: StatusReport): string {
  const dash = (v: string | number | null) => (v === null ? "-" : String(v));
  const lag = r.partitions.reduce((n, p) => n + BigInt(p.lag ?? 0), 0n);
  const letters = r.deadLetters;
  return [
    `group ${r.groupId} on ${r.target}`,
    "",
    alignedTable(
      ["TOPIC", "PARTITION", "POSITION", "END", "LAG"],
      r.partitions.map((p) => [p.topic, String(p.partition), dash(p.position), dash(p.end), dash(p.lag)]),
    ),
    `${r.partitions.length} partition(s), total lag ${lag}`,
    "",
    alignedTable(
      ["OVERLAY", "OWNED", "HIDDEN"],
      r.overlays.map((o) => [o.table, String(o.owned), String(o.hidden)]),
    ),
    `${r.overlays.length} overlaid table(s)`,
    "",
    letters.store === "table"
      ? `dead letters: ${letters.stored} in table ${letters.table}`
      : `dead letters: ${letters.onTopic === null ? `no topic ${letters.topic} yet` : `${letters.onTopic} on topic ${letters.topic}`}, ${letters.outbox} waiting in the outbox`,
    "",
    alignedTable(
      ["DRIFT", "COLUMN", "PRODUCTION", "SHADOW", "WHAT"],
      r.drift.flatMap((d) =>
        d.columns.map((c) => [
          d.table,
          c.column,
          dash(c.production ?? null),
          dash(c.shadow ?? null),
          c.detail,
        ]),
      ),
    ),
    `${r.drift.length} table(s) with schema drift (docs/schema.md)`,
  ].join("\n");
}
