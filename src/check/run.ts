/**
 * `shadowdb check`'s work: every check it can run, none stopping the others. Kafka and the target
 * are checked side by side (an unreachable broker costs seconds, not the target's time too);
 * Connect last, since it is judged against the topics Kafka listed.
 */
import type { Config } from "../config/index.ts";
import { loadDialect } from "../target/load.ts";
import { checkConnectors } from "./connectors.ts";
import { checkKafka, type KafkaFindings } from "./kafka.ts";
import { operatorAdmin } from "./kafka-admin.ts";
import type { CheckResult } from "./result.ts";
import { checkTarget } from "./target.ts";

export interface CheckOptions {
  /** Kafka Connect's REST URL: the source connectors are checked only when it is given. */
  connectUrl?: string;
}

/** A check that threw instead of reporting is still a line of the report, not the end of it. */
async function guarded<T>(check: string, work: () => Promise<T>, failed: (r: CheckResult) => T): Promise<T> {
  try {
    return await work();
  } catch (error) {
    const { code, message } = error as { code?: unknown; message?: unknown };
    const text = `${typeof code === "string" ? `${code}: ` : ""}${String(message ?? error)}`;
    return failed({ check, status: "fail", message: `could not be checked: ${text}` });
  }
}

export async function runChecks(
  config: Config,
  source: string,
  options: CheckOptions = {},
): Promise<CheckResult[]> {
  const entries = config.tables.length === 1 ? "1 table entry" : `${config.tables.length} table entries`;
  const results: CheckResult[] = [
    {
      check: "config",
      status: "ok",
      message: `${source}: ${config.target.dialect} target, ${entries}, group ${config.kafka.groupId}`,
    },
  ];
  const admin = operatorAdmin(config);
  const [kafka, target] = await Promise.all([
    guarded<KafkaFindings>(
      "kafka",
      () => checkKafka(config, admin),
      (r) => ({ results: [r] }),
    ).finally(() => admin.disconnect().catch(() => undefined)),
    guarded(
      "target",
      async () => checkTarget(config, await loadDialect(config.target.dialect)),
      (r) => [r],
    ),
  ]);
  results.push(...kafka.results, ...target);
  const { connectUrl } = options;
  if (connectUrl !== undefined) {
    results.push(
      ...(await guarded(
        "connect",
        () => checkConnectors(config, connectUrl, kafka.topics),
        (r) => [r],
      )),
    );
  }
  return results;
}
