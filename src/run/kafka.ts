/** A kafkajs client from the config, logging through pino (kafkajs's own logger writes to stdout). */
import { Kafka, type KafkaConfig, logLevel, type SASLOptions } from "kafkajs";
import type { Config } from "../config/index.ts";
import type { Logger } from "../log.ts";

const levels: Record<number, "error" | "warn" | "info" | "debug"> = {
  [logLevel.ERROR]: "error",
  [logLevel.WARN]: "warn",
  [logLevel.INFO]: "info",
  [logLevel.DEBUG]: "debug",
};

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
        log[levels[level] ?? "info"]({ kafkajs: namespace, ...rest }, message);
      },
  };
  if (kafka.ssl) options.ssl = kafka.ssl;
  if (kafka.sasl) options.sasl = { ...kafka.sasl } as SASLOptions;
  return new Kafka(options);
}
