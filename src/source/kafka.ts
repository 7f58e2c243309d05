/** A kafkajs client from the config, logging through pino (kafkajs's own logger writes to stdout). */
import {
  Kafka,
  type KafkaConfig,
  logLevel,
  Partitioners,
  type ProducerConfig,
  type SASLOptions,
} from "kafkajs";
import type { Config } from "../config/index.ts";
import type { Logger } from "../log.ts";

const levels: Record<number, "error" | "warn" | "info" | "debug"> = {
  [logLevel.ERROR]: "error",
  [logLevel.WARN]: "warn",
  [logLevel.INFO]: "info",
  [logLevel.DEBUG]: "debug",
};

/**
 * kafkajs logs every error response from a broker at error level where it arrives, though its
 * callers retry the routine ones (a rebalance, a coordinator loading) and log, themselves, what
 * they cannot recover from.
 */
function routine(namespace: string, message: string): boolean {
  return namespace === "Connection" && message.startsWith("Response ");
}

/**
 * kafkajs warns on every start that its default partitioner changed in v2, unless a producer
 * names one. shadowdb has no partitioning of an older version to keep: every producer it makes
 * (dead-letter relay, resync signals) names the v2 default, which is what it used already.
 */
class ShadowdbKafka extends Kafka {
  override producer(options: ProducerConfig = {}) {
    return super.producer({ createPartitioner: Partitioners.DefaultPartitioner, ...options });
  }
}

export function kafkaFromConfig(config: Config, log: Logger): Kafka {
  const { kafka } = config;
  const options: KafkaConfig = {
    clientId: kafka.clientId,
    brokers: kafka.brokers,
    logLevel: logLevel.WARN,
    logCreator:
      () =>
      ({ namespace, level, log: entry }) => {
        const { message, ...rest } = entry;
        log[routine(namespace, message) ? "info" : (levels[level] ?? "info")](
          { kafkajs: namespace, ...rest },
          message,
        );
      },
  };
  if (kafka.ssl) options.ssl = kafka.ssl;
  if (kafka.sasl) options.sasl = { ...kafka.sasl } as SASLOptions;
  return new ShadowdbKafka(options);
}
