import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { adminClient } from "./kafka.ts";
import {
  debeziumUser,
  dirs,
  ports,
  repoRoot,
  type StackEnv,
  type StackServices,
  stackEnv,
} from "./layout.ts";
import { isAlive, logFile, runningPid, startJava } from "./processes.ts";
import { StackError, waitFor } from "./wait.ts";

const workerProperties = path.join(dirs.conf, "connect-distributed.properties");
const connectUrl = () => stackEnv().SHADOWDB_CONNECT_URL;

export async function writeConnectConfig(): Promise<void> {
  await writeFile(
    workerProperties,
    [
      `bootstrap.servers=${stackEnv().SHADOWDB_KAFKA_BROKERS}`,
      "group.id=shadowdb-stack-connect",
      "key.converter=org.apache.kafka.connect.json.JsonConverter",
      "value.converter=org.apache.kafka.connect.json.JsonConverter",
      "key.converter.schemas.enable=true",
      "value.converter.schemas.enable=true",
      "offset.storage.topic=_shadowdb_connect_offsets",
      "offset.storage.replication.factor=1",
      "offset.storage.partitions=1",
      "config.storage.topic=_shadowdb_connect_configs",
      "config.storage.replication.factor=1",
      "status.storage.topic=_shadowdb_connect_status",
      "status.storage.replication.factor=1",
      "status.storage.partitions=1",
      "offset.flush.interval.ms=1000",
      `listeners=http://127.0.0.1:${ports.connect}`,
      "rest.advertised.host.name=127.0.0.1",
      `rest.advertised.port=${ports.connect}`,
      `plugin.path=${dirs.plugins}`,
      // Every plugin here ships ServiceLoader manifests; skipping the reflective scan saves start time.
      "plugin.discovery=service_load",
      // Lets a connector raise its own consumer/producer limits (the JDBC sink benchmark does).
      "connector.client.config.override.policy=All",
      "",
    ].join("\n"),
  );
}

/** One call to the Connect REST API (the stack's worker unless `base` says otherwise). */
export async function rest<T>(
  method: string,
  route: string,
  body?: unknown,
  base = connectUrl(),
): Promise<{ status: number; json: T }> {
  const response = await fetch(`${base}${route}`, {
    method,
    headers: { "content-type": "application/json", accept: "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await response.text();
  return { status: response.status, json: (text ? JSON.parse(text) : undefined) as T };
}

/** Waits until the worker answers and offers every connector class `needed` (from connectors/*.json). */
export async function startConnect(needed: string[]): Promise<"started" | "running"> {
  if ((await runningPid("connect")) !== undefined) return "running";
  const pid = await startJava("connect", {
    mainClass: "org.apache.kafka.connect.cli.ConnectDistributed",
    args: [workerProperties],
    heap: "1g",
  });
  await waitFor(
    "Kafka Connect REST API",
    async () => {
      const plugins = await rest<{ class: string }[]>("GET", "/connector-plugins");
      if (plugins.status !== 200) return undefined;
      const offered = new Set(plugins.json.map((p) => p.class));
      const missing = needed.filter((c) => !offered.has(c));
      if (missing.length > 0)
        throw new Error(`worker offers no ${missing.join(", ")} (check ${dirs.plugins})`);
      return true;
    },
    { timeoutMs: 120_000, logFile: logFile("connect"), alive: () => isAlive(pid) },
  );
  return "started";
}

export interface ConnectorSpec {
  name: string;
  config: Record<string, string>;
}

export interface Endpoint {
  host: string;
  port: number;
}

/**
 * The variables connectors/*.json are written against. Connect may see the databases, Kafka and
 * the schema registry at other addresses than the tests do (containers), hence the explicit
 * endpoints. Without a registry (`registry`: its origin) the Avro connectors cannot be loaded.
 */
export function connectorVars(
  services: StackServices & Partial<StackEnv>,
  seenByConnect: { postgres: Endpoint; mariadb: Endpoint; brokers: string; registry?: string },
): Record<string, string> {
  return {
    ...services,
    ...(seenByConnect.registry && {
      SHADOWDB_APICURIO_REGISTRY_URL: `${seenByConnect.registry}/apis/registry/v2`,
    }),
    SHADOWDB_KAFKA_BROKERS: seenByConnect.brokers,
    SHADOWDB_DBZ_USER: debeziumUser.name,
    SHADOWDB_DBZ_PASSWORD: debeziumUser.password,
    SHADOWDB_PG_HOST: seenByConnect.postgres.host,
    SHADOWDB_PG_PORT: String(seenByConnect.postgres.port),
    SHADOWDB_PG_DATABASE: "prod",
    SHADOWDB_MY_HOST: seenByConnect.mariadb.host,
    SHADOWDB_MY_PORT: String(seenByConnect.mariadb.port),
    SHADOWDB_MY_DATABASE: "prod",
    SHADOWDB_MY_SERVER_ID: "184054",
    SHADOWDB_MY_AVRO_SERVER_ID: "184055",
  };
}

/** Replaces `${NAME}` with the variable's value; an unknown name is an error, never an empty string. */
export function substitute(text: string, vars: Record<string, string>, source: string): string {
  return text.replace(/\$\{([A-Z0-9_]+)\}/g, (_, name: string) => {
    const value = vars[name];
    if (value === undefined) throw new StackError(`${source}: unknown variable \${${name}}`);
    return value;
  });
}

/**
 * The connectors the stack registers: one per source it runs (PostgreSQL and MariaDB). Named, not
 * globbed: connectors/ also ships mysql.json, for MySQL servers, which must never be pointed at the
 * stack's MariaDB.
 */
export const stackConnectorFiles = ["mariadb.json", "postgres.json"] as const;

/**
 * The same sources once more, written as Avro through the schema registry: the PostgreSQL one in
 * Confluent's framing, the MariaDB one in Apicurio's (ids in record headers).
 */
export const stackAvroConnectorFiles = ["mariadb-avro.json", "postgres-avro.json"] as const;

export async function loadConnectors(
  vars: Record<string, string>,
  files: readonly string[] = stackConnectorFiles,
): Promise<ConnectorSpec[]> {
  const folder = path.join(repoRoot, "connectors");
  const specs: ConnectorSpec[] = [];
  for (const file of files) {
    const raw = await readFile(path.join(folder, file), "utf8");
    specs.push(JSON.parse(substitute(raw, vars, `connectors/${file}`)) as ConnectorSpec);
  }
  return specs;
}

interface ConnectorStatus {
  connector: { state: string; trace?: string };
  tasks: { id: number; state: string; trace?: string }[];
}

/** Creates or updates a connector (PUT is idempotent) and waits until it and its tasks run. */
export async function registerConnector(spec: ConnectorSpec, base = connectUrl()): Promise<void> {
  const put = await rest<{ message?: string }>("PUT", `/connectors/${spec.name}/config`, spec.config, base);
  if (put.status >= 300) {
    throw new StackError(`Connect rejected ${spec.name} (HTTP ${put.status}): ${put.json?.message ?? ""}`);
  }
  // A connector or task that failed before this `up` stays FAILED after a PUT of equal content;
  // restart it. Connect answers with RESTARTING states, so a FAILED seen afterwards is genuine.
  const status = await rest<ConnectorStatus>("GET", `/connectors/${spec.name}/status`, undefined, base);
  if (
    status.status === 200 &&
    [status.json.connector, ...status.json.tasks].some((s) => s.state === "FAILED")
  ) {
    await rest("POST", `/connectors/${spec.name}/restart?includeTasks=true&onlyFailed=true`, undefined, base);
  }
  await waitFor(
    `connector ${spec.name}`,
    async () => {
      const { status: code, json } = await rest<ConnectorStatus>(
        "GET",
        `/connectors/${spec.name}/status`,
        undefined,
        base,
      );
      if (code !== 200) return undefined;
      const failed = [json.connector, ...json.tasks].find((s) => s.state === "FAILED");
      if (failed) throw new StackError(`connector ${spec.name} FAILED`, failed.trace);
      const running = json.connector.state === "RUNNING" && json.tasks.length > 0;
      return running && json.tasks.every((t) => t.state === "RUNNING") ? true : undefined;
    },
    { timeoutMs: 120_000, logFile: logFile("connect") },
  );
}

/** A first heartbeat proves the connector reached its streaming phase, not just RUNNING. */
export async function waitForHeartbeat(topicPrefix: string, brokers?: string): Promise<void> {
  const topic = `__debezium-heartbeat.${topicPrefix}`;
  const admin = adminClient(brokers);
  await admin.connect();
  try {
    await waitFor(
      `heartbeat on ${topic}`,
      async () => {
        const offsets = await admin.fetchTopicOffsets(topic);
        return offsets.some((o) => Number(o.high) > 0) ? true : undefined;
      },
      { timeoutMs: 120_000, logFile: logFile("connect"), intervalMs: 1000 },
    );
  } finally {
    await admin.disconnect();
  }
}

export async function connectorStates(): Promise<Record<string, string>> {
  const names = await rest<string[]>("GET", "/connectors");
  const states: Record<string, string> = {};
  for (const name of names.json) {
    const { json } = await rest<ConnectorStatus>("GET", `/connectors/${name}/status`);
    states[name] = [json.connector.state, ...json.tasks.map((t) => `task${t.id}:${t.state}`)].join(" ");
  }
  return states;
}
