/**
 * `shadowdb check --config F [--connect-url URL] [--format text|json]`: config, Kafka, the target
 * and its privileges, the mapped tables, and with --connect-url the source connectors; every check
 * runs, and each failure says what to fix. Exit 0 nothing failed (warnings allowed), 1 a check
 * failed, 2 the config does not load or the arguments are wrong.
 */
import { parseArgs } from "node:util";
import { type CheckResult, checksJson, checksText } from "../check/result.ts";
import { runChecks } from "../check/run.ts";
import { type Config, loadConfig } from "../config/index.ts";
import { ShadowdbError } from "../errors.ts";

const usage = "usage: shadowdb check --config FILE [--connect-url URL] [--format text|json]";

export async function checkCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      config: { type: "string" },
      "connect-url": { type: "string" },
      format: { type: "string", default: "text" },
    },
  });
  const format = values.format;
  if (!values.config || (format !== "json" && format !== "text")) {
    console.error(usage);
    return 2;
  }
  const print = (results: CheckResult[]) =>
    console.log(format === "json" ? JSON.stringify(checksJson(results), null, 2) : checksText(results));
  let config: Config;
  try {
    config = await loadConfig(values.config);
  } catch (error) {
    if (!(error instanceof ShadowdbError)) throw error;
    print([
      {
        check: "config",
        status: "fail",
        message: `${error.code}: ${error.message}`,
        fix: "correct the keys named above; config/postgres.yaml and config/mysql.yaml show every key, commented",
      },
    ]);
    return 2;
  }
  const connectUrl = values["connect-url"];
  const results = await runChecks(config, values.config, connectUrl === undefined ? {} : { connectUrl });
  print(results);
  return results.some((r) => r.status === "fail") ? 1 : 0;
}
