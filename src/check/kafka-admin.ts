/**
 * A kafkajs admin client for the operator commands (check, status): the config's brokers, TLS and
 * SASL, with short timeouts and few retries, so that an unreachable broker is reported in seconds
 * rather than after kafkajs's default minute of retries. Its own logging is off: the commands
 * report what failed themselves.
 */
import { type Admin, Kafka, type KafkaConfig, logLevel, type SASLOptions } from "kafkajs";
import type { Config } from "../config/index.ts";

export function operatorAdmin(config: Config): Admin {
  const { kafka } = config;
  const options: KafkaConfig = {
    clientId: `${kafka.clientId}-operator`,
    brokers: kafka.brokers,
    logLevel: logLevel.NOTHING,
    connectionTimeout: 3000,
    requestTimeout: 10_000,
    retry: { retries: 1, initialRetryTime: 300, maxRetryTime: 1000 },
  };
  if (kafka.ssl) options.ssl = kafka.ssl;
  if (kafka.sasl) options.sasl = { ...kafka.sasl } as SASLOptions;
  return new Kafka(options).admin();
}

/** The error's message and, when kafkajs wraps one, its cause's (ECONNREFUSED and the like). */
export function kafkaErrorText(error: unknown): string {
  const { message, cause } = error as { message?: unknown; cause?: { message?: unknown } };
  const text = typeof message === "string" ? message : String(error);
  const why = typeof cause?.message === "string" && cause.message !== text ? `: ${cause.message}` : "";
  return `${text}${why}`;
}
