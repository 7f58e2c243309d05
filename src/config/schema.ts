/**
 * The shape of a shadowdb config file (see config/*.yaml for every key, commented) and the
 * `Config` type the rest of shadowdb receives: defaults filled in, `kafka.brokers` a list,
 * `kafka.ssl` absent or an object, `target.dialect` "mariadb" folded into "mysql", `deadLetter`
 * resolved. Rules that tie keys together are in rules.ts.
 */
import { z } from "zod";
import { parseTableName, type TableName } from "./identifiers.ts";
import {
  checkAcrossKeys,
  checkClientCertificate,
  checkRegistryCredentials,
  checkTargetUrl,
} from "./rules.ts";
import { boolean, defaulted, integer, nonEmpty, optional, section, topicName } from "./schema-parts.ts";
import { tableEntrySchema } from "./table-entry.ts";

const hostPort = z
  .string()
  .trim()
  .regex(/^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+):([1-9][0-9]{0,4})$/, { error: 'expected "host:port"' })
  .refine((broker) => Number(broker.slice(broker.lastIndexOf(":") + 1)) <= 65535, {
    error: 'expected "host:port" with a port up to 65535',
  });

const brokers = z.preprocess(
  (value) =>
    typeof value === "string"
      ? value
          .split(",")
          .map((broker) => broker.trim())
          .filter((broker) => broker !== "")
      : value,
  z
    .array(hostPort, {
      error: (issue) =>
        issue.code === "invalid_type" ? 'expected "host:port,host:port" or a list of "host:port"' : undefined,
    })
    .min(1),
);

/** PEM text (starts with -----BEGIN) or a file path; loadConfig replaces paths by the files' PEM text. */
const pem = nonEmpty;

const ssl = z.preprocess(
  (value) =>
    value === true || value === "true"
      ? {}
      : value === false || value === "false" || value === null
        ? undefined
        : value,
  section(
    {
      ca: pem.optional(),
      cert: pem.optional(),
      key: pem.optional(),
      rejectUnauthorized: boolean.default(true),
    },
    "expected true, false or a mapping (ca, cert, key, rejectUnauthorized)",
  )
    .check(z.superRefine(checkClientCertificate, { when: () => true }))
    .optional(),
);

// The schema registry Avro topics' writer schemas come from (Confluent, Karapace, Redpanda, or
// Apicurio: its root, /apis/ccompat/v7 or /apis/registry/v2). Credentials: username and password,
// or a bearer token.
const schemaRegistry = section({
  url: z.url({ protocol: /^https?$/, error: "expected an http:// or https:// URL" }),
  username: nonEmpty.optional(),
  password: nonEmpty.optional(),
  token: nonEmpty.optional(),
  tls: optional(section({ ca: pem.optional(), cert: pem.optional(), key: pem.optional() })).check(
    z.superRefine(checkClientCertificate, { when: () => true }),
  ),
  timeoutMs: integer(100).default(10_000),
}).check(z.superRefine(checkRegistryCredentials, { when: () => true }));

const kafka = section({
  brokers,
  groupId: nonEmpty,
  clientId: nonEmpty.default("shadowdb"),
  ssl,
  sasl: optional(
    section({
      mechanism: z.preprocess(
        (value) => (typeof value === "string" ? value.toLowerCase() : value),
        z.enum(["plain", "scram-sha-256", "scram-sha-512"]),
      ),
      username: nonEmpty,
      password: nonEmpty,
    }),
  ),
  // A new shadow wants the snapshot, which sits at the start of the topics.
  fromBeginning: boolean.default(true),
  // How long the group waits for a silent member (e.g. killed -9) before its partitions move on.
  // Brokers accept 6000 to 300000 by default (group.min/max.session.timeout.ms).
  sessionTimeoutMs: integer(6000).default(30_000),
  // How often to look for new topics that a topicPattern (or a topic not yet created) maps.
  topicRefreshMs: integer(1000).default(30_000),
  fetchMaxBytes: integer(1024 * 1024).default(16 * 1024 * 1024),
  schemaRegistry: optional(schemaRegistry),
});

const dialect = z.preprocess(
  (value) => (value === "mariadb" ? "mysql" : value),
  z.enum(["postgres", "mysql"]),
);

const target = section({ dialect, url: nonEmpty }).check(z.superRefine(checkTargetUrl, { when: () => true }));

const overlay = section({
  enabled: boolean.default(true),
  // Production ids below, shadow ids above: far enough that production never catches up.
  idHeadroom: integer(1).default(1_000_000_000),
  // Production keeps inserting: how often (ms) to check that the headroom still holds.
  idCheckMs: integer(1000).default(60_000),
});

const apply = section({
  // bench:apply, 1M changes: 5000 gave 1.20x (PostgreSQL) and 1.05x (MariaDB) the rate of 2000.
  batchSize: integer(1).default(5000),
  transactional: z.enum(["table", "source"]).default("table"),
  // Debezium's transaction metadata topic (`<topic.prefix>.transaction`): source mode reads it.
  transactionTopic: topicName.optional(),
  // After END, how long a transaction may wait for events that nothing rules out yet.
  transactionTimeoutMs: integer(1000).default(60_000),
  // Source mode: the memory (estimated bytes) held transactions may take; beyond it they are
  // written as they arrive into one open target transaction, committed at their END. 128 MiB
  // peaked at 379 MiB (1M-row INSERT then UPDATE, PostgreSQL, overlay on; table mode 1M rows:
  // ~250 MiB): too near the 400 MB a 512 Mi container allows.
  maxHeldBytes: integer(1024 * 1024).default(64 * 1024 * 1024),
});

const deadLetter = section({ topic: topicName.optional(), table: z.string().optional() });

const decode = section({
  maxRecordBytes: integer(1).default(16 * 1024 * 1024),
  binaryHandlingMode: z.enum(["bytes", "base64", "base64-url-safe", "hex"]).default("bytes"),
});

const http = section({
  port: integer(0, 65535).default(8080),
  host: nonEmpty.default("0.0.0.0"),
  adminToken: z.string().min(16).optional(),
  // /readyz: the largest lag behind the source (ms since the last applied change's source commit,
  // 0 when caught up) that still counts as ready.
  readyLagMs: integer(1).default(30_000),
  // /healthz: an apply that runs longer than this means the loop is stuck (restart the process).
  stalledAfterMs: integer(1000).default(300_000),
});

// `shadowdb seed`: production itself, read in one read-only snapshot (never written).
const seed = section({ source: section({ url: nonEmpty }) });

// SIGTERM: how long to let the batch in flight finish before abandoning it (its transaction rolls
// back and is applied again after restart). Kubernetes' default grace period is 30 s.
const shutdown = section({ timeoutMs: integer(0).default(10_000) });

// Schema following (docs/schema.md): safe adds production's new columns, widens types and relaxes
// NOT NULL of columns production stopped sending; none only reports them as drift.
const schemaPolicy = section({ follow: z.enum(["safe", "none"]).default("safe") });

const logLevels = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;

export const configSchema = section({
  kafka,
  target,
  tables: z.array(tableEntrySchema).min(1),
  overlay: defaulted(overlay),
  apply: defaulted(apply),
  onError: z.enum(["dlq", "stop"]).default("dlq"),
  deadLetter: optional(deadLetter),
  masking: defaulted(section({ key: z.string().min(16).optional() })),
  decode: defaulted(decode),
  http: defaulted(http),
  seed: optional(seed),
  shutdown: defaulted(shutdown),
  log: defaulted(section({ level: z.enum(logLevels).default("info") })),
  schema: defaulted(schemaPolicy),
})
  .check(z.superRefine(checkAcrossKeys, { when: () => true }))
  .transform(({ deadLetter, ...config }) => ({
    ...config,
    deadLetter: resolveDeadLetter(deadLetter, config.kafka.groupId),
  }));

export type Config = z.output<typeof configSchema>;
export type ConfigInput = z.input<typeof configSchema>;
export type DeadLetter = Config["deadLetter"];

type DeadLetterTarget = { kind: "topic"; topic: string } | { kind: "table"; table: TableName };

function resolveDeadLetter(
  input: z.output<typeof deadLetter> | undefined,
  groupId: string,
): DeadLetterTarget {
  if (input?.table !== undefined) return { kind: "table", table: parseTableName(input.table)! };
  return { kind: "topic", topic: input?.topic ?? `${groupId}.dlq` };
}
