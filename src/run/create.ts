/** Wires a Materializer from a config: the dialect (loaded on demand), Kafka, the target. */
import type { Config } from "../config/index.ts";
import type { Logger } from "../log.ts";
import type { Metrics } from "../metrics/metrics.ts";
import { kafkaFromConfig } from "../source/kafka.ts";
import { loadDialect } from "../target/load.ts";
import { Materializer, type MaterializerOptions } from "./materializer.ts";

/** What a Materializer is built from: benchmarks that observe the target start from these too. */
export async function materializerOptions(
  config: Config,
  log: Logger,
  metrics?: Metrics,
): Promise<MaterializerOptions> {
  const dialect = await loadDialect(config.target.dialect);
  // A topic store is fed from an outbox table written with the positions (see dead-letter-relay.ts).
  const deadLetterTable =
    config.deadLetter.kind === "table"
      ? config.deadLetter.table
      : { schema: "", name: "shadowdb_dlq_outbox" };
  return {
    config,
    kafka: kafkaFromConfig(config, log),
    target: new dialect.Target(config.target.url, deadLetterTable),
    classify: dialect.classify,
    log,
    metrics,
  };
}

export async function createMaterializer(
  config: Config,
  log: Logger,
  metrics?: Metrics,
): Promise<Materializer> {
  return new Materializer(await materializerOptions(config, log, metrics));
}
