/** `shadowdb run --config F`: the materializer, until SIGINT/SIGTERM. */
import { parseArgs } from "node:util";
import { loadConfig } from "../config/index.ts";
import { createLogger } from "../log.ts";
import { createMaterializer } from "../run/create.ts";

export async function runCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { config: { type: "string" } } });
  if (!values.config) {
    console.error("shadowdb run: --config FILE is required");
    return 2;
  }
  const config = await loadConfig(values.config);
  const log = createLogger(config.log.level);
  const materializer = await createMaterializer(config, log);
  const stop = new AbortController();
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => {
      log.info({ signal }, "stopping");
      stop.abort();
    });
  }
  await materializer.run(stop.signal);
  log.info(materializer.stats, "stopped");
  return 0;
}
