/**
 * `shadowdb connectors apply --connect-url URL --file F [--file F …] [--set VAR=VALUE …]
 * [--dry-run] [--timeout SECONDS]`: the Debezium source connectors shadowdb expects
 * (connectors/*.json, or the user's own files) validated by Kafka Connect and created or updated.
 *
 * Order, so that a mistake anywhere leaves Connect untouched: every file is read and its ${VAR}
 * references filled first (an unset variable: exit 2, nothing sent); then Connect validates every
 * file (any setting it rejects: exit 1, nothing created); then, unless --dry-run, each connector
 * is created or updated and watched until it and its tasks are RUNNING (exit 0) or FAILED / not
 * RUNNING within --timeout (exit 1). Connect unreachable: exit 2. Passwords never appear.
 */
import { parseArgs } from "node:util";
import { putConnector, type Validation, validateConnector, waitUntilRunning } from "../connectors/apply.ts";
import { type ConnectorFile, loadConnectorFile, parseAssignments } from "../connectors/files.ts";
import { ConnectUnreachable, connectRest } from "../connectors/rest.ts";
import { ShadowdbError } from "../errors.ts";

const usage =
  "usage: shadowdb connectors apply --connect-url URL --file F [--file F …] [--set VAR=VALUE …] [--dry-run] [--timeout SECONDS]";

export async function connectorsCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      "connect-url": { type: "string" },
      file: { type: "string", multiple: true, default: [] },
      set: { type: "string", multiple: true, default: [] },
      "dry-run": { type: "boolean", default: false },
      timeout: { type: "string", default: "60" },
    },
  });
  const timeout = Number(values.timeout);
  const problem =
    positionals.length !== 1 || positionals[0] !== "apply"
      ? `expected the sub-command apply${positionals.length === 0 ? "" : `, got ${positionals.join(" ")}`}`
      : !values["connect-url"]
        ? "--connect-url is required (Kafka Connect's REST URL)"
        : values.file.length === 0
          ? "--file is required: postgres, mysql, mariadb (the shipped files) or a path; repeat it for several"
          : !Number.isFinite(timeout) || timeout <= 0
            ? "--timeout expects a number of seconds"
            : undefined;
  if (problem !== undefined) {
    console.error(`shadowdb connectors: ${problem}\n${usage}`);
    return 2;
  }
  const env = { ...process.env, ...parseAssignments(values.set) };
  const files: ConnectorFile[] = [];
  for (const argument of values.file) files.push(await loadConnectorFile(argument, env));
  const names = files.map((f) => f.name);
  const repeated = names.find((name, i) => names.indexOf(name) !== i);
  if (repeated !== undefined) {
    throw new ShadowdbError("USAGE_INVALID", `two files define the connector ${JSON.stringify(repeated)}`);
  }

  const rest = connectRest(values["connect-url"]!);
  try {
    return await apply(rest, files, { dryRun: values["dry-run"], timeoutMs: timeout * 1000 });
  } catch (error) {
    if (!(error instanceof ConnectUnreachable)) throw error;
    console.error(`shadowdb connectors: Kafka Connect is unreachable: ${error.message}`);
    return 2;
  }
}

async function apply(
  rest: ReturnType<typeof connectRest>,
  files: ConnectorFile[],
  options: { dryRun: boolean; timeoutMs: number },
): Promise<number> {
  const validations: Validation[] = [];
  for (const file of files) {
    const validation = await validateConnector(rest, file);
    validations.push(validation);
    console.log(`${file.source}: ${file.name} (${file.config["connector.class"]}) at ${rest.shown}`);
    printValidation(validation);
  }
  if (validations.some((v) => v.kind !== "valid")) {
    console.log(`nothing ${options.dryRun ? "to create" : "created or updated"}: Connect rejected a config`);
    return 1;
  }
  if (options.dryRun) {
    console.log(
      `--dry-run: ${files.length === 1 ? "the config is" : "every config is"} valid; nothing created`,
    );
    return 0;
  }
  let failed = false;
  for (const file of files) {
    const change = await putConnector(rest, file);
    if (change.kind === "refused") {
      console.log(`✖ ${file.name}: Connect refused the config (HTTP ${change.status}): ${change.message}`);
      failed = true;
      continue;
    }
    const done = change.kind === "updated" ? `updated (${change.settings.join(", ")})` : change.kind;
    const outcome = await waitUntilRunning(rest, file, change, options.timeoutMs);
    if (outcome.state === "RUNNING") {
      console.log(`✔ ${file.name}: ${done}; ${outcome.summary}`);
      continue;
    }
    failed = true;
    if (outcome.state === "FAILED") {
      console.log(`✖ ${file.name}: ${done}, but FAILED: ${outcome.summary}`);
      if (outcome.trace) console.log(indent(outcome.trace, "    "));
    } else if (outcome.state === "HELD") {
      const name = encodeURIComponent(file.name);
      console.log(`✖ ${file.name}: ${done}, but ${outcome.summary}: it keeps the config and does not run`);
      console.log(`    fix: PUT ${rest.shown}/connectors/${name}/resume when it should run again`);
      continue;
    } else {
      console.log(
        `✖ ${file.name}: ${done}, but not RUNNING after ${options.timeoutMs / 1000} s: ${outcome.summary}`,
      );
    }
    const name = encodeURIComponent(file.name);
    console.log(`    fix: read GET ${rest.shown}/connectors/${name}/status, correct the cause, apply again`);
  }
  return failed ? 1 : 0;
}

function printValidation(validation: Validation): void {
  switch (validation.kind) {
    case "valid":
      console.log(`  ✔ valid (${validation.checked} settings checked by Connect and the connector)`);
      return;
    case "refused":
      console.log(
        `  ✖ Connect did not validate it (HTTP ${validation.status}): ${validation.message}` +
          (validation.status === 404 || /plugin|class/i.test(validation.message)
            ? " (is the connector plugin installed on the worker? GET /connector-plugins lists them)"
            : ""),
      );
      return;
    case "invalid": {
      const count = validation.errors.length;
      console.log(`  ✖ Connect rejected ${count === 1 ? "1 setting" : `${count} settings`}:`);
      for (const e of validation.errors) {
        console.log(`    ${e.setting} = ${e.value}:`);
        for (const message of e.errors) console.log(indent(message, "      "));
      }
    }
  }
}

const indent = (text: string, prefix: string) =>
  text
    .split("\n")
    .map((line) => prefix + line)
    .join("\n");
