/** The config module's public surface: load a config, route topics to tables, keep secrets out of logs. */
export { type Env, interpolateEnv } from "./env.ts";
export {
  type Dialect,
  identifierPattern,
  isIdentifier,
  parseTableName,
  type TableName,
} from "./identifiers.ts";
export { loadConfig, parseConfig } from "./load.ts";
export { type Config, type ConfigInput, configSchema, type DeadLetter } from "./schema.ts";
export { redactOptions, redactPaths, redactUrl, secretPaths } from "./secrets.ts";
export type { MaskRule, TableEntry } from "./table-entry.ts";
export { entryForTable, resolveTable, type TableMapping, topicSubscriptions } from "./tables.ts";
