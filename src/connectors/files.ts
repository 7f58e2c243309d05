/**
 * Connector files (connectors/*.json and the user's own): `{"name": …, "config": {…}}` as Kafka
 * Connect's `POST /connectors` takes it, with `${VAR}` references filled from the environment
 * and `--set`. The shipped files are named by engine (`postgres`, `mysql`, `mariadb`, without
 * `.json`); any other argument is a path. Substitution uses the config's rules (src/config/env.ts: `${VAR}`,
 * `${VAR:-default}`, `$${` for a literal), on the parsed JSON's string values, and every unset
 * variable is reported at once with the file and the setting that uses it, before anything is
 * sent to Connect.
 */
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { type Env, interpolateEnv } from "../config/index.ts";
import { ShadowdbError } from "../errors.ts";

/** The shipped connector files, by the engine they capture. */
export const shippedConnectors = ["postgres", "mysql", "mariadb"] as const;
export type ShippedConnector = (typeof shippedConnectors)[number];

/** connectors/ of the installed package: ../../connectors from src/connectors and dist/connectors alike. */
const shippedFolder = new URL("../../connectors/", import.meta.url);

export interface ConnectorFile {
  /** How the file is shown: the argument as given, or connectors/<engine>.json. */
  source: string;
  name: string;
  /** Every setting, `connector.class` included, as strings (Connect's configs are string maps). */
  config: Record<string, string>;
}

/** The path a `--file` argument names: a shipped engine name, or the argument itself. */
export function connectorPath(argument: string): { path: string; source: string } {
  if ((shippedConnectors as readonly string[]).includes(argument)) {
    return {
      path: fileURLToPath(new URL(`${argument}.json`, shippedFolder)),
      source: `connectors/${argument}.json`,
    };
  }
  return { path: argument, source: argument };
}

/** Reads, substitutes and checks one connector file. Typed errors: CONFIG_UNREADABLE, CONFIG_ENV_MISSING, CONFIG_INVALID. */
export async function loadConnectorFile(argument: string, env: Env): Promise<ConnectorFile> {
  const { path, source } = connectorPath(argument);
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    const hint = argument.includes("/")
      ? ""
      : ` (the shipped files are named ${shippedConnectors.join(", ")})`;
    throw new ShadowdbError(
      "CONFIG_UNREADABLE",
      `${source}: cannot read the connector file: ${reason}${hint}`,
      {
        cause: error,
      },
    );
  }
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch (error) {
    // JSON.parse quotes the text around the problem, which may be a password: keep only its position.
    const position = /position \d+(?: \(line \d+ column \d+\))?/.exec(String(error))?.[0];
    throw new ShadowdbError(
      "CONFIG_UNREADABLE",
      `${source}: not valid JSON${position === undefined ? "" : ` (at ${position})`}`,
    );
  }
  return checkShape(interpolateEnv(document, env, source), source);
}

function checkShape(document: unknown, source: string): ConnectorFile {
  const problems: string[] = [];
  const top = plainObject(document);
  if (top === undefined) {
    throw new ShadowdbError("CONFIG_INVALID", `${source}: expected {"name": "…", "config": {…}}`);
  }
  for (const key of Object.keys(top)) {
    if (key !== "name" && key !== "config")
      problems.push(`${key}: unknown key (the keys here are: name, config)`);
  }
  const name = top.name;
  if (typeof name !== "string" || name.trim() === "") problems.push("name: expected the connector's name");
  else if (/[/\\]|^\.\.?$/.test(name))
    problems.push(`name: ${JSON.stringify(name)} cannot be part of a URL path`);
  const settings = plainObject(top.config);
  const config: Record<string, string> = {};
  if (settings === undefined) problems.push("config: expected a mapping of settings");
  else {
    for (const [key, value] of Object.entries(settings)) {
      // Connect stores every setting as a string; a number or boolean is taken as its spelling.
      if (typeof value === "string") config[key] = value;
      else if (typeof value === "number" || typeof value === "boolean") config[key] = String(value);
      else problems.push(`config["${key}"]: expected a string`);
    }
    if (!config["connector.class"])
      problems.push('config["connector.class"]: required (the connector plugin)');
    if (config.name !== undefined && typeof name === "string" && config.name !== name) {
      problems.push(`config.name: ${JSON.stringify(config.name)} differs from name ${JSON.stringify(name)}`);
    }
  }
  if (problems.length > 0) {
    const count = problems.length === 1 ? "1 problem" : `${problems.length} problems`;
    throw new ShadowdbError(
      "CONFIG_INVALID",
      `${source}: invalid connector file (${count}):\n  ${problems.join("\n  ")}`,
    );
  }
  return { source, name: name as string, config };
}

function plainObject(value: unknown): Record<string, unknown> | undefined {
  return typeof value === "object" && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

/** `--set VAR=VALUE` arguments as variables; USAGE_INVALID for one without `=` or with a bad name. */
export function parseAssignments(assignments: readonly string[]): Record<string, string> {
  const vars: Record<string, string> = {};
  for (const assignment of assignments) {
    const equals = assignment.indexOf("=");
    const name = equals < 0 ? "" : assignment.slice(0, equals);
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
      // Only the name part is shown: the value may be a password.
      const shown = equals < 0 ? "an argument without =" : JSON.stringify(name);
      throw new ShadowdbError("USAGE_INVALID", `--set expects VAR=VALUE, got ${shown}`);
    }
    vars[name] = assignment.slice(equals + 1);
  }
  return vars;
}
