/**
 * `npm run stack -- up | down [--purge] | status | env`: the local CDC stack (Kafka KRaft broker,
 * Kafka Connect with Debezium, the local PostgreSQL and MariaDB prepared as "production", and a
 * schema registry for the connectors that write Avro).
 */
import { rm } from "node:fs/promises";
import { serviceVariables } from "../test/support/services.ts";
import {
  connectorStates,
  connectorVars,
  loadConnectors,
  registerConnector,
  stackAvroConnectorFiles,
  startConnect,
  waitForHeartbeat,
  writeConnectConfig,
} from "./connect.ts";
import { prepareMariaDb, preparePostgres } from "./databases.ts";
import { ensureJars } from "./jars.ts";
import { formatStorage, startKafka, writeKafkaConfig } from "./kafka.ts";
import { avroTopicPrefixes, dirs, ports, registryOrigin, stackEnv, topicPrefixes } from "./layout.ts";
import { type Component, runningPid, stop } from "./processes.ts";
import { startSchemaRegistry } from "./registry/process.ts";
import { StackError } from "./wait.ts";

const log = (line: string) => process.stderr.write(`stack: ${line}\n`);

async function timed<T>(label: string, step: () => Promise<T>): Promise<T> {
  const start = performance.now();
  const result = await step();
  log(
    `${label}: ${result === undefined ? "done" : String(result)} (${((performance.now() - start) / 1000).toFixed(1)}s)`,
  );
  return result;
}

/**
 * Brings the stack up. The Avro connectors (`avro`) are opt-in until a test reads their topics:
 * each would process every production write a second time on this 2-core machine.
 */
async function up(avro: boolean): Promise<void> {
  const start = performance.now();
  await timed("jars", () => ensureJars(log));
  await writeKafkaConfig();
  const kafkaIsNew = (await runningPid("kafka")) === undefined && formatStorage();
  await timed("databases", () =>
    Promise.all([preparePostgres({ kafkaIsNew, log }), prepareMariaDb({ log })]).then(() => "prepared"),
  );
  await timed("kafka", startKafka);
  await timed("registry", startSchemaRegistry);
  await writeConnectConfig();
  const env = stackEnv();
  const vars = connectorVars(env, {
    postgres: { host: "127.0.0.1", port: ports.postgres },
    mariadb: { host: "127.0.0.1", port: ports.mariadb },
    brokers: env.SHADOWDB_KAFKA_BROKERS,
    registry: registryOrigin(),
  });
  const connectors = [
    ...(await loadConnectors(vars)),
    ...(avro ? await loadConnectors(vars, stackAvroConnectorFiles) : []),
  ];
  await timed("connect", () => startConnect(connectors.map((c) => c.config["connector.class"] ?? "")));
  for (const spec of connectors) {
    await timed(`connector ${spec.name}`, () => registerConnector(spec).then(() => "RUNNING"));
  }
  for (const prefix of [...Object.values(topicPrefixes), ...(avro ? Object.values(avroTopicPrefixes) : [])]) {
    await timed(`heartbeat ${prefix}`, () => waitForHeartbeat(prefix).then(() => "seen"));
  }
  log(`up in ${((performance.now() - start) / 1000).toFixed(1)}s`);
}

async function down(purge: boolean): Promise<void> {
  // Reverse order of start: Connect first so connectors commit their offsets while Kafka still runs.
  for (const name of ["connect", "registry", "kafka"] as Component[]) {
    log(`${name}: ${(await stop(name)) ? "stopped" : "not running"}`);
  }
  if (purge) {
    await rm(dirs.kafkaData, { recursive: true, force: true });
    await rm(dirs.logs, { recursive: true, force: true });
    // The schema ids only mattered to the records that were just deleted.
    await rm(dirs.registry, { recursive: true, force: true });
    log("purged Kafka data, registry state and logs (the next up re-snapshots prod)");
  }
}

async function status(): Promise<boolean> {
  let allUp = true;
  for (const name of ["kafka", "registry", "connect"] as Component[]) {
    const pid = await runningPid(name);
    allUp &&= pid !== undefined;
    console.log(`${name.padEnd(9)} ${pid === undefined ? "stopped" : `running (pid ${pid})`}`);
  }
  if ((await runningPid("connect")) !== undefined) {
    const states = await connectorStates().catch((e: Error) => ({ "(rest)": e.message }));
    for (const [name, state] of Object.entries(states)) {
      allUp &&= !state.includes("FAILED");
      console.log(`connector ${name}: ${state}`);
    }
  }
  return allUp;
}

function printEnv(): void {
  for (const [name, value] of Object.entries(stackEnv())) console.log(`export ${name}='${value}'`);
}

const usage = "usage: npm run stack -- up [--avro] | for-tests [--avro] | down [--purge] | status | env";

/** `--avro` or SHADOWDB_STACK_AVRO=1: also register the Avro connectors (connectors/*-avro.json). */
const withAvro = (args: string[]) => args.includes("--avro") || process.env.SHADOWDB_STACK_AVRO === "1";

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case "up":
      await up(withAvro(rest));
      return 0;
    // `npm test`'s pretest: the tests' services are the local stack unless all SHADOWDB_* say otherwise.
    case "for-tests":
      if (serviceVariables.every((name) => process.env[name]))
        log("SHADOWDB_* set: not starting the local stack");
      else await up(withAvro(rest));
      return 0;
    case "down":
      await down(rest.includes("--purge"));
      return 0;
    case "status":
      return (await status()) ? 0 : 1;
    case "env":
      printEnv();
      return 0;
    default:
      console.error(usage);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof StackError) {
      log(`error: ${error.message}`);
      if (error.logExcerpt) process.stderr.write(`${error.logExcerpt}\n`);
    } else {
      log(`error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    }
    process.exit(1);
  },
);
