/**
 * `shadowdb seed --config F [--table T] [--format text|json]`: loads the mapped tables from
 * production's snapshot (seed.source) at bulk speed and stores the positions `run` goes on from
 * (src/seed/seed.ts says why the result converges). Reads production, never writes it.
 */
import { parseArgs } from "node:util";
import { kafkaErrorText, operatorAdmin } from "../check/kafka-admin.ts";
import { loadConfig, redactUrl } from "../config/index.ts";
import { ShadowdbError } from "../errors.ts";
import { createLogger } from "../log.ts";
import { type SeededTable, seed } from "../seed/seed.ts";
import { partitionId } from "../source/partition.ts";
import { loadDialect } from "../target/load.ts";

const usage = "usage: shadowdb seed --config FILE [--table schema.table] [--format text|json]";

export async function seedCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      config: { type: "string" },
      table: { type: "string" },
      format: { type: "string", default: "text" },
    },
  });
  if (!values.config || (values.format !== "json" && values.format !== "text")) {
    console.error(usage);
    return 2;
  }
  const config = await loadConfig(values.config);
  if (!config.seed)
    throw new ShadowdbError(
      "CONFIG_INVALID",
      "seed.source.url is not set: the seed reads production from it",
    );
  const dialect = await loadDialect(config.target.dialect);
  if (!dialect.seeding)
    throw new ShadowdbError(
      "SEED_UNSUPPORTED",
      `seed is not built for ${config.target.dialect} targets; the shadow loads through the connector's snapshot`,
    );
  const log = createLogger(config.log.level);
  const deadLetterTable = config.deadLetter.kind === "table" ? config.deadLetter.table : undefined;
  const target = new dialect.Target(config.target.url, deadLetterTable);
  const source = new dialect.seeding.Source(config.seed.source.url);
  const admin = operatorAdmin(config);
  try {
    await admin.connect().catch((error: unknown) => {
      throw new ShadowdbError(
        "SEED_SOURCE",
        `kafka ${config.kafka.brokers.join(",")}: ${kafkaErrorText(error)} (the seed reads the topics' end offsets first)`,
      );
    });
    const seeded = await seed({
      config,
      target,
      seedTarget: dialect.seeding.target(target),
      source,
      listTopics: () => admin.listTopics(),
      endOffsets: async (topic) =>
        (await admin.fetchTopicOffsets(topic)).map((p) => ({ partition: p.partition, offset: p.high })),
      commitOffsets: (topic, positions) =>
        admin.setOffsets({
          groupId: config.kafka.groupId,
          topic,
          partitions: positions.map((p) => ({ partition: p.partition, offset: p.offset })),
        }),
      log,
      ...(values.table === undefined ? {} : { table: values.table }),
    }).catch((error: unknown) => {
      if (error instanceof ShadowdbError) throw error;
      const { code } = dialect.classify(error);
      throw new ShadowdbError(code, `${redactUrl(config.target.url)}: ${(error as Error).message}`, {
        cause: error,
      });
    });
    console.log(values.format === "json" ? JSON.stringify(seeded, null, 2) : seedText(seeded));
    return 0;
  } finally {
    await source.close();
    await target.close();
    await admin.disconnect().catch(() => undefined);
  }
}

function seedText(seeded: SeededTable[]): string {
  if (seeded.length === 0) return "no mapped topic to seed";
  return seeded
    .map((s) =>
      s.outcome === "skipped"
        ? `${s.table}: skipped (positions for ${s.topic} already stored: seeded or applied before)`
        : `${s.table}: ${s.rows} rows from ${s.source} in ${s.seconds} s; run goes on from ${
            s.positions.map((p) => `${partitionId(s.topic, p.partition)}@${p.offset}`).join(", ") ||
            `the start of ${s.topic}`
          }${s.columnsSkipped.length > 0 ? `; not in the target: ${s.columnsSkipped.join(", ")}` : ""}`,
    )
    .join("\n");
}
