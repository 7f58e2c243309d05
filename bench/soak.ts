/**
 * bench/soak: the crash test at soak size. A writer makes `--changes` row changes in `prod` while
 * the real `shadowdb run` is killed with SIGKILL `--crashes` times at random moments and started
 * again; a watcher polls the shadow throughout and fails the run if any row's version ever goes
 * backwards or a row vanishes (a change applied twice or lost). At the end the shadow equals
 * production, there are no dead letters, and the stored position is the topic's end. Not part of
 * the test command: a run takes minutes per engine and mode.
 *
 * Usage: tsx bench/soak.ts [postgres|mariadb|both] [--mode table|source|both]
 *                          [--changes 1000000] [--crashes 20]
 */

import {
  type CrashEngine,
  type CrashOptions,
  cleanUp,
  crashTest,
  newCrashRun,
} from "../test/support/crash.ts";
import { mariadbCrashEngine, postgresCrashEngine } from "../test/support/crash-engines.ts";
import { services } from "../test/support/env.ts";
import type { Services } from "../test/support/services.ts";
import { writeResults } from "./support.ts";

type Mode = "table" | "source";

function parse(argv: string[]) {
  let engines = ["postgres", "mariadb"];
  let modes: Mode[] = ["table", "source"];
  let changes = 1_000_000;
  let crashes = 20;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${arg} needs a value`);
      return v;
    };
    if (arg === "--mode") {
      const m = value();
      modes = m === "both" ? ["table", "source"] : [m as Mode];
    } else if (arg === "--changes") changes = Number(value());
    else if (arg === "--crashes") crashes = Number(value());
    else if (arg === "postgres" || arg === "mariadb") engines = [arg];
    else if (arg !== "both") throw new Error(`unknown argument ${arg}`);
  }
  for (const m of modes) if (m !== "table" && m !== "source") throw new Error(`--mode ${m}?`);
  if (!Number.isInteger(changes) || changes < 10_000) throw new Error("--changes: at least 10000");
  return { engines, modes, changes, crashes };
}

/**
 * Sized so that the crashes fall while the writer is still writing: each life runs 3-5 s of
 * start-up plus 4-12 s, and the writer spreads its changes over about half the lives' total.
 */
function soakOptions(changes: number, crashes: number): CrashOptions {
  const rowsPerStatement = 1000;
  return {
    initialRows: 20_000,
    laterRows: 5_000,
    updateStatements: Math.max(1, Math.round((changes - 25_000) / rowsPerStatement)),
    rowsPerStatement,
    writeSpreadMs: Math.max(20_000, crashes * 7_000),
    crashes,
    minLifeMs: 4_000,
    maxLifeMs: 12_000,
    catchUpTimeoutMs: 900_000,
    publishTimeoutMs: 900_000,
  };
}

const builders: Record<string, (env: Services) => CrashEngine> = {
  postgres: postgresCrashEngine,
  mariadb: mariadbCrashEngine,
};

const { engines, modes, changes, crashes } = parse(process.argv.slice(2));
const env = await services();
let failed = false;
for (const name of engines) {
  const engine = builders[name]!(env);
  for (const mode of modes) {
    const transactionTopic =
      mode === "source"
        ? `${name === "postgres" ? env.SHADOWDB_PG_TOPIC_PREFIX : env.SHADOWDB_MY_TOPIC_PREFIX}.transaction`
        : undefined;
    const run = newCrashRun(transactionTopic);
    const options = soakOptions(changes, crashes);
    try {
      const figures = await crashTest(engine, run, options);
      const result = {
        benchmark: "soak",
        engine: name,
        mode,
        date: new Date().toISOString(),
        node: process.version,
        // crashTest throws on any lost or twice-applied change: figures exist only for a pass.
        passed: true,
        ...figures,
      };
      console.log(JSON.stringify(result));
      writeResults(`soak-${name}-${mode}`, result);
    } catch (error) {
      failed = true;
      console.error(`soak ${name} ${mode} FAILED:`, error);
    } finally {
      await cleanUp(engine, run);
    }
  }
}
process.exit(failed ? 1 : 0);
