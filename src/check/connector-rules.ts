/**
 * The Debezium source-connector settings shadowdb relies on, as one table: each rule names the
 * setting, Debezium's default when the connector leaves it out, what shadowdb expects, why, and
 * the fix. `shadowdb check --connect-url` judges every connector that feeds the config's topics
 * by it. The defaults are Debezium 3.x's (CommonConnectorConfig and the connectors' own configs);
 * the stack's connectors (connectors/*.json) set every setting a rule fails without.
 */
import type { Config } from "../config/index.ts";
import type { CheckStatus } from "./result.ts";

export type SourceEngine = "postgres" | "mysql";

export interface RuleContext {
  /** The connector's engine, from its class; undefined for a class shadowdb does not know. */
  engine: SourceEngine | undefined;
  /** shadowdb's own settings that decide what some connector settings must be. */
  shadowdb: Pick<Config, "apply" | "decode" | "schema" | "tables">;
  /** All of the connector's settings, for rules that read a second one. */
  settings: Readonly<Record<string, string>>;
}

export interface ConnectorRule {
  setting: string;
  /** Only for connectors of this engine. */
  engine?: SourceEngine;
  /** What the connector does when the setting is absent. */
  debeziumDefault?: string;
  /** What shadowdb expects, as the report shows it. */
  expected: (ctx: RuleContext) => string;
  /** The verdict on the effective value (the default when absent); undefined: the rule does not apply. */
  judge: (value: string | undefined, ctx: RuleContext) => CheckStatus | undefined;
  why: string;
  fix: (ctx: RuleContext) => string;
}

const JSON_CONVERTER = "org.apache.kafka.connect.json.JsonConverter";

const list = (value: string | undefined) =>
  (value ?? "")
    .split(",")
    .map((s) => s.trim().toLowerCase())
    .filter((s) => s !== "");

/** Whether schema.follow is safe anywhere: at the top or in a table entry. */
const following = (ctx: RuleContext) =>
  ctx.shadowdb.schema.follow === "safe" || ctx.shadowdb.tables.some((t) => t.schema?.follow === "safe");

const converterRule = (setting: string): ConnectorRule => ({
  setting,
  expected: () => JSON_CONVERTER,
  judge: (value) => (value === undefined ? "warn" : value === JSON_CONVERTER ? "ok" : "fail"),
  why: "shadowdb decodes Connect's JSON (with or without schemas) only; when the connector leaves it out the worker's default applies, which the REST API does not show",
  fix: () => `"${setting}": "${JSON_CONVERTER}" on the connector`,
});

export const connectorRules: readonly ConnectorRule[] = [
  {
    setting: "skipped.operations",
    debeziumDefault: "t",
    expected: () => "none",
    judge: (value) => (list(value ?? "t").some((op) => ["c", "u", "d", "t"].includes(op)) ? "fail" : "ok"),
    why: "shadowdb applies every insert, update, delete and truncate; a skipped one leaves the shadow different from production without a trace. Debezium skips truncates unless told otherwise (the default is t)",
    fix: () => '"skipped.operations": "none"',
  },
  {
    setting: "binary.handling.mode",
    debeziumDefault: "bytes",
    expected: (ctx) => ctx.shadowdb.decode.binaryHandlingMode,
    judge: (value, ctx) => ((value ?? "bytes") === ctx.shadowdb.decode.binaryHandlingMode ? "ok" : "fail"),
    why: "shadowdb reads binary columns in the encoding its decode.binaryHandlingMode names; any other would be taken for the bytes themselves",
    fix: (ctx) =>
      `"binary.handling.mode": "${ctx.shadowdb.decode.binaryHandlingMode}" on the connector, or decode.binaryHandlingMode: ${ctx.settings["binary.handling.mode"] ?? "bytes"} in shadowdb's config`,
  },
  {
    setting: "column.propagate.source.type",
    expected: () => "every column (.*), or datatype.propagate.source.type",
    judge: (value, ctx) => {
      // datatype.propagate.source.type does the same by type name.
      if (value || ctx.settings["datatype.propagate.source.type"]) return "ok";
      const binary = (ctx.settings["binary.handling.mode"] ?? "bytes") !== "bytes";
      return binary || following(ctx) ? "warn" : undefined;
    },
    why: "schema following (docs/schema.md) learns varchar/char lengths, numeric precision and scale and fraction digits from the source type only: without it production's wider columns are not followed and their values are dead-lettered (TARGET_VALUE_ALTERED), and added columns get generic types. With base64 or hex, only the source type tells a binary column from text",
    fix: () => '"column.propagate.source.type": ".*" on the connector',
  },
  {
    setting: "provide.transaction.metadata",
    debeziumDefault: "false",
    expected: () => "true",
    judge: (value, ctx) =>
      ctx.shadowdb.apply.transactional !== "source" ? undefined : value === "true" ? "ok" : "fail",
    why: "apply.transactional: source commits whole source transactions, which it learns from the transaction topic",
    fix: () => '"provide.transaction.metadata": "true" on the connector, or apply.transactional: table',
  },
  {
    setting: "topic.transaction",
    debeziumDefault: "transaction",
    expected: (ctx) => `the suffix of apply.transactionTopic (${ctx.shadowdb.apply.transactionTopic})`,
    judge: (value, ctx) =>
      ctx.shadowdb.apply.transactional !== "source"
        ? undefined
        : `${ctx.settings["topic.prefix"]}.${value ?? "transaction"}` === ctx.shadowdb.apply.transactionTopic
          ? "ok"
          : "fail",
    why: "the connector writes transaction metadata to <topic.prefix>.<topic.transaction>, and apply.transactionTopic must name that topic",
    fix: (ctx) =>
      `apply.transactionTopic: ${ctx.settings["topic.prefix"]}.${ctx.settings["topic.transaction"] ?? "transaction"}`,
  },
  {
    setting: "time.precision.mode",
    expected: () => "Debezium's default (adaptive / adaptive_time_microseconds), not connect",
    judge: (value) => (value === "connect" ? "warn" : "ok"),
    why: "connect's Time and Timestamp types carry milliseconds: microseconds are lost, and MySQL TIME values outside 00:00-24:00 become null",
    fix: () => 'remove "time.precision.mode" (the default keeps every digit)',
  },
  {
    setting: "decimal.handling.mode",
    debeziumDefault: "precise",
    expected: () => "precise or string",
    judge: (value) => (value === "double" ? "warn" : "ok"),
    why: "double rounds decimals to 15-17 significant digits: the shadow's numeric values differ from production's",
    fix: () => '"decimal.handling.mode": "precise" (or "string")',
  },
  {
    setting: "interval.handling.mode",
    engine: "postgres",
    debeziumDefault: "numeric",
    expected: () => "string",
    judge: (value) => (value === "string" ? "ok" : "warn"),
    why: "numeric sends an interval as microseconds with months counted as 30 days: '1 mon' arrives as '30 days'",
    fix: () => '"interval.handling.mode": "string"',
  },
  {
    setting: "bigint.unsigned.handling.mode",
    engine: "mysql",
    debeziumDefault: "long",
    expected: () => "precise",
    judge: (value) => (value === "precise" ? "ok" : "warn"),
    why: "long wraps BIGINT UNSIGNED values above 2^63-1 to negative numbers",
    fix: () => '"bigint.unsigned.handling.mode": "precise"',
  },
  converterRule("key.converter"),
  converterRule("value.converter"),
  {
    setting: "value.converter.schemas.enable",
    debeziumDefault: "true",
    expected: () => "true",
    judge: (value, ctx) =>
      ctx.settings["value.converter"] === undefined ? undefined : value === "false" ? "warn" : "ok",
    why: "without schemas values arrive as Debezium encodes them (dates as day counts, decimals as base64, timestamps as epoch numbers) with no types to decode them by; typed columns refuse or misread them, and a missing table cannot be created",
    fix: () => '"value.converter.schemas.enable": "true"',
  },
  {
    setting: "snapshot.mode",
    debeziumDefault: "initial",
    expected: () => "initial or when_needed",
    judge: (value) =>
      value === "initial_only" ? "fail" : value === "never" || value === "no_data" ? "warn" : "ok",
    why: "the shadow starts from the snapshot: no_data (never) leaves out every row that existed before the connector started unless `shadowdb seed` loads them, and initial_only streams no change after the snapshot",
    fix: () => '"snapshot.mode": "initial" (or "when_needed")',
  },
];

export interface RuleVerdict {
  setting: string;
  /** The connector's value; undefined when it leaves the setting to Debezium's default. */
  value: string | undefined;
  debeziumDefault?: string;
  status: CheckStatus;
  expected: string;
  why: string;
  fix: string;
}

/** Every rule that applies to a connector with these settings, judged. */
export function judgeConnector(ctx: RuleContext): RuleVerdict[] {
  const verdicts: RuleVerdict[] = [];
  for (const rule of connectorRules) {
    if (rule.engine !== undefined && rule.engine !== ctx.engine) continue;
    const value = ctx.settings[rule.setting];
    const status = rule.judge(value, ctx);
    if (status === undefined) continue;
    verdicts.push({
      setting: rule.setting,
      value,
      ...(rule.debeziumDefault === undefined ? {} : { debeziumDefault: rule.debeziumDefault }),
      status,
      expected: rule.expected(ctx),
      why: rule.why,
      fix: rule.fix(ctx),
    });
  }
  return verdicts;
}

/** The engine a connector class captures, for the engine-specific rules. */
export function sourceEngine(connectorClass: string | undefined): SourceEngine | undefined {
  const name = (connectorClass ?? "").toLowerCase();
  if (name.includes("postgres")) return "postgres";
  if (name.includes("mysql") || name.includes("mariadb")) return "mysql";
  return undefined;
}
