/**
 * The Kafka Connect half of `shadowdb check --connect-url`: which connectors feed this config
 * (their topic.prefix begins a topic the config maps: Debezium names topics
 * <prefix>.<schema>.<table>; topic-routing transforms are not followed), whether they and their
 * tasks run, and their settings judged by the rule table (connector-rules.ts). Only the checked
 * settings are ever shown: a connector's configuration also holds its database password.
 */
import { type Config, redactUrl, resolveTable } from "../config/index.ts";
import { type ConnectorState, readConnectors } from "./connect-rest.ts";
import { judgeConnector, type RuleVerdict, sourceEngine } from "./connector-rules.ts";
import type { CheckResult, CheckStatus } from "./result.ts";

export async function checkConnectors(
  config: Config,
  connectUrl: string,
  kafkaTopics: string[] | undefined,
): Promise<CheckResult[]> {
  const shown = redactUrl(connectUrl);
  let connectors: ConnectorState[];
  try {
    connectors = await readConnectors(connectUrl);
  } catch (error) {
    return [
      {
        check: "connect.reachable",
        status: "fail",
        message: `${shown}: ${(error as Error).message}`,
        fix: "check --connect-url: the Connect worker's REST listener (rest.advertised.host.name, listeners)",
      },
    ];
  }
  const results: CheckResult[] = [
    {
      check: "connect.reachable",
      status: "ok",
      message: `${shown} answered (${connectors.length} connectors)`,
    },
  ];
  const feeding = connectors.filter((c) => feedsConfig(config, c.config["topic.prefix"], kafkaTopics));
  if (feeding.length === 0) {
    results.push({
      check: "connect.connectors",
      status: "warn",
      message: `no connector at ${shown} writes a topic this config maps (judged by topic.prefix)`,
      fix: "compare the connectors' topic.prefix with the config's topic / topicPattern entries",
    });
    return results;
  }
  for (const connector of feeding) {
    results.push(stateResult(connector, shown));
    const verdicts = judgeConnector({
      engine: sourceEngine(connector.config["connector.class"]),
      shadowdb: config,
      settings: connector.config,
    });
    for (const verdict of verdicts) results.push(settingResult(connector.name, verdict));
  }
  return results;
}

/** Whether a topic the config maps, by name or among Kafka's topics, starts with `<prefix>.`. */
function feedsConfig(config: Config, prefix: string | undefined, kafkaTopics: string[] | undefined): boolean {
  if (prefix === undefined) return false;
  const candidates = [
    ...config.tables.flatMap((t) => (t.topic === undefined ? [] : [t.topic])),
    ...(kafkaTopics ?? []),
    ...(config.apply.transactional === "source" ? [config.apply.transactionTopic!] : []),
  ];
  return candidates.some((topic) => {
    if (!topic.startsWith(`${prefix}.`)) return false;
    if (topic === config.apply.transactionTopic) return true;
    try {
      return resolveTable(config, topic) !== undefined;
    } catch {
      // A pattern that maps the topic to a bad name still maps it; check's Kafka lines report it.
      return true;
    }
  });
}

function stateResult(c: ConnectorState, shown: string): CheckResult {
  const tasks = c.tasks.map((t) => `task ${t.id} ${t.state}`).join(", ") || "no tasks";
  const message = `${c.name} (topic.prefix ${c.config["topic.prefix"]}): ${c.state}, ${tasks}`;
  const states = [c.state, ...c.tasks.map((t) => t.state)];
  let status: CheckStatus = "ok";
  if (states.some((s) => s === "UNASSIGNED" || s === "RESTARTING") || c.tasks.length === 0) status = "warn";
  if (states.some((s) => s === "FAILED" || s === "PAUSED" || s === "STOPPED")) status = "fail";
  if (status === "ok") return { check: "connect.connector", status, message };
  const name = encodeURIComponent(c.name);
  const fix = states.some((s) => s === "PAUSED" || s === "STOPPED")
    ? `PUT ${shown}/connectors/${name}/resume`
    : `read the failed task's trace (GET ${shown}/connectors/${name}/status), fix its cause, then POST ${shown}/connectors/${name}/restart?includeTasks=true&onlyFailed=true`;
  return { check: "connect.connector", status, message, fix };
}

function settingResult(connector: string, v: RuleVerdict): CheckResult {
  const fallback = v.debeziumDefault === undefined ? "" : ` (Debezium's default: ${v.debeziumDefault})`;
  const value = v.value === undefined ? `not set${fallback}` : `= ${v.value}`;
  const message = `${connector}: ${v.setting} ${value}`;
  if (v.status === "ok") return { check: "connect.setting", status: "ok", message };
  return {
    check: "connect.setting",
    status: v.status,
    message: `${message}; expected ${v.expected}: ${v.why}`,
    fix: v.fix,
  };
}
