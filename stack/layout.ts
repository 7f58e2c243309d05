import path from "node:path";
import { fileURLToPath } from "node:url";

// Everything the stack writes lives under one git-ignored folder so `down` and a clean
// clone never have to guess what is ours.
export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
export const stackDir = process.env.SHADOWDB_STACK_DIR ?? path.join(repoRoot, ".stack");

export const dirs = {
  lib: path.join(stackDir, "lib"),
  plugins: path.join(stackDir, "plugins"),
  conf: path.join(stackDir, "conf"),
  logs: path.join(stackDir, "logs"),
  run: path.join(stackDir, "run"),
  kafkaData: path.join(stackDir, "kafka-data"),
  registry: path.join(stackDir, "registry"),
};

function port(name: string, fallback: number): number {
  const raw = process.env[name];
  return raw ? Number.parseInt(raw, 10) : fallback;
}

// Off the well-known ports so a developer's own Kafka on 9092/8083 is left alone.
export const ports = {
  broker: port("SHADOWDB_STACK_BROKER_PORT", 19092),
  controller: port("SHADOWDB_STACK_CONTROLLER_PORT", 19093),
  connect: port("SHADOWDB_STACK_CONNECT_PORT", 18083),
  postgres: port("SHADOWDB_STACK_PG_PORT", 5432),
  mariadb: port("SHADOWDB_STACK_MY_PORT", 3306),
  registry: port("SHADOWDB_STACK_REGISTRY_PORT", 18081),
};

export const topicPrefixes = { postgres: "pgprod", mariadb: "myprod" } as const;
/** The second pair of connectors, writing Avro through the schema registry (connectors/*-avro.json). */
export const avroTopicPrefixes = { postgres: "pgavro", mariadb: "myavro" } as const;

/** The database account Debezium connects with, created by `up` with the grants Debezium documents. */
export const debeziumUser = { name: "debezium", password: process.env.SHADOWDB_STACK_DBZ_PASSWORD ?? "dbz" };

/** The services every stack offers (the test containers too): the JSON topics and their databases. */
export type StackServices = Record<
  | "SHADOWDB_KAFKA_BROKERS"
  | "SHADOWDB_CONNECT_URL"
  | "SHADOWDB_PG_PROD_URL"
  | "SHADOWDB_PG_SHADOW_URL"
  | "SHADOWDB_MY_PROD_URL"
  | "SHADOWDB_MY_SHADOW_URL"
  | "SHADOWDB_PG_TOPIC_PREFIX"
  | "SHADOWDB_MY_TOPIC_PREFIX",
  string
>;

/**
 * The exported interface: scripts outside the code rely on exactly these names.
 * SHADOWDB_SCHEMA_REGISTRY_URL is the Confluent-compatible base (`{url}/schemas/ids/{id}`), what
 * a Confluent Schema Registry, Karapace or Redpanda URL would be; the Apicurio v2 API of the same
 * server is at `/apis/registry/v2` on its origin.
 */
export type StackEnv = StackServices &
  Record<
    "SHADOWDB_SCHEMA_REGISTRY_URL" | "SHADOWDB_PG_AVRO_TOPIC_PREFIX" | "SHADOWDB_MY_AVRO_TOPIC_PREFIX",
    string
  >;

/** The registry's origin; the Apicurio converter is given `${registryOrigin}/apis/registry/v2`. */
export const registryOrigin = () => `http://127.0.0.1:${ports.registry}`;

export function stackEnv(): StackEnv {
  return {
    SHADOWDB_KAFKA_BROKERS: `127.0.0.1:${ports.broker}`,
    SHADOWDB_CONNECT_URL: `http://127.0.0.1:${ports.connect}`,
    SHADOWDB_PG_PROD_URL: `postgresql://postgres@127.0.0.1:${ports.postgres}/prod`,
    SHADOWDB_PG_SHADOW_URL: `postgresql://postgres@127.0.0.1:${ports.postgres}/shadow`,
    SHADOWDB_MY_PROD_URL: `mysql://root@127.0.0.1:${ports.mariadb}/prod`,
    SHADOWDB_MY_SHADOW_URL: `mysql://root@127.0.0.1:${ports.mariadb}/shadow`,
    SHADOWDB_PG_TOPIC_PREFIX: topicPrefixes.postgres,
    SHADOWDB_MY_TOPIC_PREFIX: topicPrefixes.mariadb,
    SHADOWDB_SCHEMA_REGISTRY_URL: `${registryOrigin()}/apis/ccompat/v7`,
    SHADOWDB_PG_AVRO_TOPIC_PREFIX: avroTopicPrefixes.postgres,
    SHADOWDB_MY_AVRO_TOPIC_PREFIX: avroTopicPrefixes.mariadb,
  };
}
