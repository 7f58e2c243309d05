/** The target database of a config, for the commands that work on it directly (overlay, reset, diff). */
import { type Config, loadConfig } from "../config/index.ts";
import type { OverlayAdmin, TargetSession } from "../target/dialect.ts";
import { loadDialect } from "../target/load.ts";

export async function openTarget(
  configFile: string,
): Promise<{ config: Config; target: OverlayAdmin & TargetSession }> {
  const config = await loadConfig(configFile);
  const dialect = await loadDialect(config.target.dialect);
  const deadLetterTable = config.deadLetter.kind === "table" ? config.deadLetter.table : undefined;
  const target = new dialect.Target(config.target.url, deadLetterTable);
  await target.prepare();
  return { config, target };
}
