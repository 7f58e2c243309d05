import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { Kafka, logLevel } from "kafkajs";
import { dirs, ports, stackEnv } from "./layout.ts";
import { isAlive, logFile, runningPid, startJava } from "./processes.ts";
import { StackError, waitFor } from "./wait.ts";

const serverProperties = path.join(dirs.conf, "server.properties");

export async function writeKafkaConfig(): Promise<void> {
  await mkdir(dirs.conf, { recursive: true });
  // Static voters: a single combined node needs no dynamic quorum, and format then needs no flag.
  await writeFile(
    serverProperties,
    [
      "process.roles=broker,controller",
      "node.id=1",
      `controller.quorum.voters=1@127.0.0.1:${ports.controller}`,
      `listeners=PLAINTEXT://127.0.0.1:${ports.broker},CONTROLLER://127.0.0.1:${ports.controller}`,
      `advertised.listeners=PLAINTEXT://127.0.0.1:${ports.broker}`,
      "controller.listener.names=CONTROLLER",
      "inter.broker.listener.name=PLAINTEXT",
      "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
      `log.dirs=${dirs.kafkaData}`,
      "num.partitions=1",
      "auto.create.topics.enable=true",
      "offsets.topic.replication.factor=1",
      "offsets.topic.num.partitions=5",
      "transaction.state.log.replication.factor=1",
      "transaction.state.log.min.isr=1",
      "share.coordinator.state.topic.replication.factor=1",
      "share.coordinator.state.topic.min.isr=1",
      // Tests join and leave consumer groups constantly; the default 3 s delay would dominate them.
      "group.initial.rebalance.delay.ms=0",
      "log.retention.hours=24",
      "",
    ].join("\n"),
  );
  await writeFile(
    path.join(dirs.conf, "log4j2.properties"),
    [
      "status=warn",
      "appender.out.type=Console",
      "appender.out.name=out",
      "appender.out.layout.type=PatternLayout",
      "appender.out.layout.pattern=[%d] %p %m (%c)%n",
      "rootLogger.level=INFO",
      "rootLogger.appenderRef.out.ref=out",
      "logger.kafka.name=kafka",
      "logger.kafka.level=WARN",
      "logger.apache.name=org.apache.kafka",
      "logger.apache.level=WARN",
      "logger.connect.name=org.apache.kafka.connect.runtime.rest",
      "logger.connect.level=WARN",
      "logger.debezium.name=io.debezium",
      "logger.debezium.level=INFO",
      "",
    ].join("\n"),
  );
}

/** Formats the KRaft log directory once; returns true when it was new (all Kafka-side state is gone). */
export function formatStorage(): boolean {
  if (existsSync(path.join(dirs.kafkaData, "meta.properties"))) return false;
  const clusterId = randomBytes(16).toString("base64url");
  const run = spawnSync(
    "java",
    ["-cp", `${dirs.lib}/*`, "kafka.tools.StorageTool", "format", "-t", clusterId, "-c", serverProperties],
    { encoding: "utf8" },
  );
  if (run.status !== 0) {
    throw new StackError("formatting Kafka storage failed", `${run.stdout}${run.stderr}`);
  }
  return true;
}

export function adminClient(brokers = stackEnv().SHADOWDB_KAFKA_BROKERS) {
  return new Kafka({
    clientId: "shadowdb-stack",
    brokers: brokers.split(","),
    logLevel: logLevel.NOTHING,
    retry: { retries: 0 },
  }).admin();
}

export async function brokerAnswers(): Promise<boolean> {
  const admin = adminClient();
  try {
    await admin.connect();
    const cluster = await admin.describeCluster();
    return cluster.brokers.length > 0;
  } finally {
    await admin.disconnect();
  }
}

export async function startKafka(): Promise<"started" | "running"> {
  if ((await runningPid("kafka")) !== undefined) return "running";
  const pid = await startJava("kafka", {
    mainClass: "kafka.Kafka",
    args: [serverProperties],
    heap: "768m",
  });
  await waitFor("Kafka broker", async () => ((await brokerAnswers()) ? true : undefined), {
    timeoutMs: 90_000,
    logFile: logFile("kafka"),
    alive: () => isAlive(pid),
  });
  return "started";
}
