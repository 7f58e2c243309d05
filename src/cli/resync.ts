/**
 * `shadowdb resync --config F --table T [--source-url URL] [--timeout S] [--format text|json]`:
 * brings one table back to production through the connector's incremental snapshot while
 * `shadowdb run` keeps applying (src/resync/resync.ts says how). Writes nothing to production:
 * the signal goes to a Kafka topic, and production is only read, for the sweep of deleted keys.
 */
import { parseArgs } from "node:util";
import { kafkaErrorText, operatorAdmin } from "../check/kafka-admin.ts";
import { loadConfig, redactUrl } from "../config/index.ts";
import { ShadowdbError } from "../errors.ts";
import { createLogger } from "../log.ts";
import { tableArgument } from "../overlay/admin.ts";
import { resyncKafka } from "../resync/kafka.ts";
import { type ResyncReport, resync } from "../resync/resync.ts";
import { kafkaFromConfig } from "../source/kafka.ts";
import { loadDialect } from "../target/load.ts";

const usage =
  "usage: shadowdb resync --config FILE --table schema.table [--direct] [--source-url URL | --no-sweep] [--timeout SECONDS] [--format text|json]";

export async function resyncCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      config: { type: "string" },
      table: { type: "string" },
      "source-url": { type: "string" },
      "no-sweep": { type: "boolean", default: false },
      direct: { type: "boolean", default: false },
      timeout: { type: "string", default: "600" },
      format: { type: "string", default: "text" },
    },
  });
  const timeout = Number(values.timeout);
  if (
    !values.config ||
    !values.table ||
    !(Number.isInteger(timeout) && timeout > 0) ||
    (values.format !== "json" && values.format !== "text") ||
    (values["no-sweep"] && (values["source-url"] !== undefined || values.direct))
  ) {
    console.error(usage);
    return 2;
  }
  const table = tableArgument(values.table);
  const config = await loadConfig(values.config);
  const sourceUrl = values["no-sweep"] ? undefined : (values["source-url"] ?? config.seed?.source.url);
  const dialect = await loadDialect(config.target.dialect);
  const log = createLogger(config.log.level);
  const deadLetterTable = config.deadLetter.kind === "table" ? config.deadLetter.table : undefined;
  const target = new dialect.Target(config.target.url, deadLetterTable);
  const admin = operatorAdmin(config);
  const kafka = resyncKafka(kafkaFromConfig(config, log), admin, config.kafka.groupId);
  const keys =
    sourceUrl === undefined
      ? undefined
      : { shadow: new dialect.KeyReader(config.target.url), production: new dialect.KeyReader(sourceUrl) };
  const progress = values.format === "text" ? (line: string) => console.log(line) : undefined;
  try {
    await admin.connect().catch((error: unknown) => {
      throw new ShadowdbError(
        "RESYNC_SIGNAL",
        `kafka ${config.kafka.brokers.join(",")}: ${kafkaErrorText(error)} (resync signals the connector through Kafka)`,
      );
    });
    await target.prepare();
    const report = await resync({
      config,
      table,
      target,
      kafka,
      ...(keys ? { keys } : {}),
      direct: values.direct,
      log,
      timeoutMs: timeout * 1000,
      ...(progress ? { progress } : {}),
    }).catch((error: unknown) => {
      if (error instanceof ShadowdbError) throw error;
      // kafkajs names its errors KafkaJS…: the cluster, not the target, refused.
      if (String((error as { name?: unknown } | null)?.name ?? "").startsWith("KafkaJS"))
        throw new ShadowdbError("RESYNC_SIGNAL", `kafka: ${kafkaErrorText(error)}`, { cause: error });
      const { code } = dialect.classify(error);
      throw new ShadowdbError(code, `${redactUrl(config.target.url)}: ${(error as Error).message}`, {
        cause: error,
      });
    });
    console.log(values.format === "json" ? JSON.stringify(report, null, 2) : resyncText(report));
    return 0;
  } finally {
    await kafka.close();
    await admin.disconnect().catch(() => undefined);
    await keys?.shadow.close();
    await keys?.production.close();
    await target.close();
  }
}

function resyncText(report: ResyncReport): string {
  return report.topics
    .map((t) => {
      const sweep =
        t.sweep === null
          ? "rows deleted in production were NOT looked for (no --source-url or seed.source.url)"
          : `${t.sweep.deleted} row(s) production no longer has deleted, of ${t.sweep.checked} key(s) checked`;
      const owned = report.overlay ? ", owned rows kept" : "";
      if (t.direct) {
        const skipped =
          t.direct.columnsSkipped.length > 0
            ? `; not in the target: ${t.direct.columnsSkipped.join(", ")}`
            : "";
        return `${report.table}: resynced directly from ${t.collection} (${t.direct.copied} rows copied, ${t.direct.toCopy} to the production copy of owned keys${skipped}); ${sweep}`;
      }
      const applied = t.appliedThrough.map((p) => `[${p.partition}]@${p.offset}`).join(", ") || "its start";
      return `${report.table}: resynced from ${t.collection} (${t.rowsScanned ?? "?"} rows read by Debezium's incremental snapshot ${t.signalId}, applied through ${t.topic}${applied}${owned}); ${sweep}`;
    })
    .join("\n");
}
