/**
 * The same services from Docker images, for machines with a Docker engine (none here: this path
 * is never exercised on this project's CI, see CONTRIBUTING.md). Containers are reused across test files.
 */
import { GenericContainer, Network, type StartedTestContainer, Wait } from "testcontainers";
import { connectorVars, loadConnectors, registerConnector, waitForHeartbeat } from "../../stack/connect.ts";
import { ensureMariaDbObjects, ensurePostgresObjects } from "../../stack/databases.ts";
import { topicPrefixes } from "../../stack/layout.ts";
import type { Services } from "./services.ts";

const images = {
  kafka: "apache/kafka:4.1.1",
  connect: "quay.io/debezium/connect:3.5.0.Final",
  postgres: "quay.io/debezium/postgres:16",
  mariadb: "mariadb:11.4",
};
// Kafka must advertise an address the host can reach, so its external port is fixed.
const kafkaHostPort = 29092;

export async function startContainers(): Promise<Services> {
  const network = await new Network().start();
  const start = (image: string, alias: string, setup: (c: GenericContainer) => GenericContainer) =>
    setup(new GenericContainer(image).withNetwork(network).withNetworkAliases(alias).withReuse()).start();

  const [, postgres, mariadb]: StartedTestContainer[] = await Promise.all([
    start(images.kafka, "kafka", (c) =>
      c
        .withExposedPorts({ container: kafkaHostPort, host: kafkaHostPort })
        .withEnvironment({
          KAFKA_NODE_ID: "1",
          KAFKA_PROCESS_ROLES: "broker,controller",
          KAFKA_LISTENERS: `INTERNAL://:9092,CONTROLLER://:9093,EXTERNAL://:${kafkaHostPort}`,
          KAFKA_ADVERTISED_LISTENERS: `INTERNAL://kafka:9092,EXTERNAL://127.0.0.1:${kafkaHostPort}`,
          KAFKA_LISTENER_SECURITY_PROTOCOL_MAP: "INTERNAL:PLAINTEXT,CONTROLLER:PLAINTEXT,EXTERNAL:PLAINTEXT",
          KAFKA_INTER_BROKER_LISTENER_NAME: "INTERNAL",
          KAFKA_CONTROLLER_LISTENER_NAMES: "CONTROLLER",
          KAFKA_CONTROLLER_QUORUM_VOTERS: "1@kafka:9093",
          KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR: "1",
          KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR: "1",
          KAFKA_TRANSACTION_STATE_LOG_MIN_ISR: "1",
          KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS: "0",
        })
        .withWaitStrategy(Wait.forLogMessage(/Kafka Server started/)),
    ),
    start(images.postgres, "postgres", (c) =>
      c
        .withExposedPorts(5432)
        .withEnvironment({ POSTGRES_HOST_AUTH_METHOD: "trust" })
        .withWaitStrategy(Wait.forListeningPorts()),
    ),
    start(images.mariadb, "mariadb", (c) =>
      c
        .withExposedPorts(3306)
        .withEnvironment({ MARIADB_ALLOW_EMPTY_ROOT_PASSWORD: "1" })
        .withCommand([
          "--log-bin=mysql-bin",
          "--binlog-format=ROW",
          "--binlog-row-image=FULL",
          "--server-id=223344",
        ])
        .withWaitStrategy(Wait.forListeningPorts()),
    ),
  ]);
  const host = (c: StartedTestContainer, port: number) => ({
    host: c.getHost(),
    port: c.getMappedPort(port),
  });
  await ensurePostgresObjects({ ...host(postgres!, 5432), user: "postgres" });
  await ensureMariaDbObjects({ ...host(mariadb!, 3306), user: "root" });

  const connect = await start(images.connect, "connect", (c) =>
    c
      .withExposedPorts(8083)
      .withEnvironment({
        BOOTSTRAP_SERVERS: "kafka:9092",
        GROUP_ID: "shadowdb-test-connect",
        CONFIG_STORAGE_TOPIC: "_shadowdb_connect_configs",
        OFFSET_STORAGE_TOPIC: "_shadowdb_connect_offsets",
        STATUS_STORAGE_TOPIC: "_shadowdb_connect_status",
      })
      .withWaitStrategy(Wait.forHttp("/connectors", 8083)),
  );
  const services: Services = {
    SHADOWDB_KAFKA_BROKERS: `127.0.0.1:${kafkaHostPort}`,
    SHADOWDB_CONNECT_URL: `http://${connect.getHost()}:${connect.getMappedPort(8083)}`,
    SHADOWDB_PG_PROD_URL: `postgresql://postgres@${postgres!.getHost()}:${postgres!.getMappedPort(5432)}/prod`,
    SHADOWDB_PG_SHADOW_URL: `postgresql://postgres@${postgres!.getHost()}:${postgres!.getMappedPort(5432)}/shadow`,
    SHADOWDB_MY_PROD_URL: `mysql://root@${mariadb!.getHost()}:${mariadb!.getMappedPort(3306)}/prod`,
    SHADOWDB_MY_SHADOW_URL: `mysql://root@${mariadb!.getHost()}:${mariadb!.getMappedPort(3306)}/shadow`,
    SHADOWDB_PG_TOPIC_PREFIX: topicPrefixes.postgres,
    SHADOWDB_MY_TOPIC_PREFIX: topicPrefixes.mariadb,
  };
  const connectors = await loadConnectors(
    connectorVars(services, {
      postgres: { host: "postgres", port: 5432 },
      mariadb: { host: "mariadb", port: 3306 },
      brokers: "kafka:9092",
    }),
  );
  for (const spec of connectors) await registerConnector(spec, services.SHADOWDB_CONNECT_URL);
  for (const prefix of Object.values(topicPrefixes))
    await waitForHeartbeat(prefix, services.SHADOWDB_KAFKA_BROKERS);
  return services;
}
