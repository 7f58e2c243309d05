/**
 * Config rules a key's own schema cannot state: keys that depend on each other (a client
 * certificate and its key, a URL and the dialect, tables and the masking key…). Zod runs them as
 * refinements of the sections they span, even when other keys failed, so reads are defensive.
 */
import type { z } from "zod";
import { type Dialect, tableNameProblem, topicNamePattern } from "./identifiers.ts";
import { record } from "./table-entry.ts";
import { groupCount, groupsOf, parseTemplate, patternError, templateCanYieldTable } from "./topic-pattern.ts";

const urlSchemes: Record<Dialect, readonly string[]> = {
  postgres: ["postgres:", "postgresql:"],
  mysql: ["mysql:", "mariadb:"],
};

type Report = (issue: { path: PropertyKey[]; message: string; input?: unknown }) => void;

function reporter(ctx: z.core.$RefinementCtx<unknown>): Report {
  return (issue) => ctx.addIssue({ code: "custom", ...issue });
}

/** The URL's scheme ("postgres:"), or "" when it does not parse. */
function schemeOf(url: string): string {
  try {
    return new URL(url).protocol;
  } catch {
    return "";
  }
}

const schemesText = (schemes: readonly string[]) => schemes.map((s) => `${s}//`).join(" or ");

export function checkTargetUrl(value: unknown, ctx: z.core.$RefinementCtx<unknown>): void {
  const { dialect, url } = record(value) ?? {};
  if (typeof url !== "string" || url === "") return;
  const accepted =
    dialect === "postgres" || dialect === "mysql" ? urlSchemes[dialect] : Object.values(urlSchemes).flat();
  if (!accepted.includes(schemeOf(url))) {
    const wanted = schemesText(accepted);
    const forDialect = typeof dialect === "string" && dialect in urlSchemes ? ` for dialect ${dialect}` : "";
    reporter(ctx)({ path: ["url"], message: `expected a ${wanted} URL${forDialect}`, input: url });
  }
}

/** Rules that tie keys together. Runs even when other keys failed, so reads are defensive. */
export function checkAcrossKeys(value: unknown, ctx: z.core.$RefinementCtx<unknown>): void {
  const config = record(value);
  if (!config) return;
  const report = reporter(ctx);
  const targetDialect = record(config.target)?.dialect;
  const wording = targetDialect === "postgres" || targetDialect === "mysql" ? targetDialect : undefined;
  const tables = Array.isArray(config.tables) ? config.tables.map((entry) => record(entry) ?? {}) : [];
  checkTableNames(tables, wording, report);
  checkRepeatedTopics(tables, report);
  checkMaskingKey(tables, record(config.masking)?.key, report);
  checkAdminToken(record(config.http), report);
  checkTransactionTopic(record(config.apply), report);
  checkDeadLetter(record(config.deadLetter), record(config.kafka)?.groupId, wording, report);
  checkSeedUrl(record(record(config.seed)?.source)?.url, wording, report);
  checkAvroTables(tables, record(config.kafka)?.schemaRegistry, report);
}

/** A table pinned to Avro cannot be read without the registry its schemas are in. */
function checkAvroTables(tables: Record<string, unknown>[], registry: unknown, report: Report): void {
  if (registry !== undefined && registry !== null) return;
  tables.forEach((entry, i) => {
    if (entry.format === "avro")
      report({
        path: ["tables", i, "format"],
        message: "avro needs kafka.schemaRegistry (where its schemas are)",
      });
  });
}

/** The seed reads production with the target's dialect: bulk text flows from one to the other as is. */
function checkSeedUrl(url: unknown, wording: Dialect | undefined, report: Report): void {
  if (typeof url !== "string" || url === "" || wording === undefined) return;
  if (!urlSchemes[wording].includes(schemeOf(url))) {
    report({
      path: ["seed", "source", "url"],
      message: `expected a ${schemesText(urlSchemes[wording])} URL: the seed's source has the target's dialect (${wording})`,
      input: url,
    });
  }
}

function checkTableNames(
  tables: Record<string, unknown>[],
  wording: Dialect | undefined,
  report: Report,
): void {
  tables.forEach((entry, i) => {
    const table = entry.table;
    if (typeof table !== "string") return;
    const path = ["tables", i, "table"];
    const pattern = entry.topicPattern;
    const parts = typeof pattern === "string" ? parseTemplate(table) : [table];
    const groups = groupsOf(parts);
    if (groups.length === 0) {
      const problem = tableNameProblem(table, wording);
      if (problem !== undefined) report({ path, message: problem, input: table });
      return;
    }
    const available =
      typeof pattern === "string" && patternError(pattern) === undefined ? groupCount(pattern) : undefined;
    for (const group of new Set(groups)) {
      if (available !== undefined && (group < 1 || group > available)) {
        report({
          path,
          message: `$${group} names group ${group}, but topicPattern has ${groupsText(available)}`,
        });
      }
    }
    if (!templateCanYieldTable(parts)) {
      report({
        path,
        message: `expected ${wording === "mysql" ? '"database.table"' : '"schema.table"'} (two identifiers; $1, $2… stand for topicPattern's groups)`,
        input: table,
      });
    }
  });
}

function groupsText(count: number): string {
  if (count === 0) return "no groups";
  return count === 1 ? "one group ($1)" : `${count} groups ($1 to $${count})`;
}

function checkRepeatedTopics(tables: Record<string, unknown>[], report: Report): void {
  const first = new Map<string, number>();
  tables.forEach((entry, i) => {
    if (typeof entry.topic !== "string") return;
    const earlier = first.get(entry.topic);
    if (earlier !== undefined) {
      report({
        path: ["tables", i, "topic"],
        message: `"${entry.topic}" is already mapped by tables[${earlier}]`,
      });
    } else first.set(entry.topic, i);
  });
}

function checkMaskingKey(tables: Record<string, unknown>[], key: unknown, report: Report): void {
  if (key !== undefined) return;
  for (const [i, entry] of tables.entries()) {
    const mask = record(record(entry.columns)?.mask) ?? {};
    const hashed = Object.entries(mask).find(([, rule]) => record(rule)?.strategy === "hash");
    if (hashed) {
      report({
        path: ["masking", "key"],
        message: `required (the HMAC key) because tables[${i}].columns.mask.${hashed[0]} uses strategy "hash"`,
      });
      return;
    }
  }
}

function checkAdminToken(http: Record<string, unknown> | undefined, report: Report): void {
  const port = http?.port ?? 8080;
  if (port !== 0 && http?.adminToken === undefined) {
    report({
      path: ["http", "adminToken"],
      message:
        "required (at least 16 characters) while http.port is not 0: the admin endpoints need a bearer token; or set http.port: 0 to turn HTTP off",
    });
  }
}

function checkTransactionTopic(apply: Record<string, unknown> | undefined, report: Report): void {
  if (apply?.transactional === "source" && apply.transactionTopic === undefined) {
    report({
      path: ["apply", "transactionTopic"],
      message:
        "required with transactional: source: the topic of Debezium's transaction metadata, e.g. <topic.prefix>.transaction",
    });
  }
}

function checkDeadLetter(
  letter: Record<string, unknown> | undefined,
  groupId: unknown,
  wording: Dialect | undefined,
  report: Report,
): void {
  if (letter?.topic !== undefined && letter.table !== undefined) {
    report({ path: ["deadLetter"], message: "set topic or table, not both" });
  }
  if (typeof letter?.table === "string") {
    const problem = tableNameProblem(letter.table, wording);
    if (problem !== undefined)
      report({ path: ["deadLetter", "table"], message: problem, input: letter.table });
  }
  if (letter?.topic === undefined && letter?.table === undefined && typeof groupId === "string") {
    const topic = `${groupId}.dlq`;
    if (!topicNamePattern.test(topic)) {
      report({
        path: ["deadLetter", "topic"],
        message: `the default ${JSON.stringify(topic)} (kafka.groupId + ".dlq") is not a valid topic name; set deadLetter.topic`,
      });
    }
  }
}

/** A client certificate is useless without its private key, and the reverse. */
/** Basic auth needs both halves, and is not given together with a bearer token. */
export function checkRegistryCredentials(value: unknown, ctx: z.core.$RefinementCtx<unknown>): void {
  const { username, password, token } = record(value) ?? {};
  const report = reporter(ctx);
  if ((username === undefined) !== (password === undefined)) {
    const [missing, given] = username === undefined ? ["username", "password"] : ["password", "username"];
    report({ path: [missing], message: `required with ${given}: basic auth needs both` });
  }
  if (token !== undefined && username !== undefined)
    report({ path: ["token"], message: "give either a token or username and password, not both" });
}

export function checkClientCertificate(value: unknown, ctx: z.core.$RefinementCtx<unknown>): void {
  const { cert, key } = record(value) ?? {};
  if ((cert === undefined) === (key === undefined)) return;
  const [missing, given] = cert === undefined ? ["cert", "key"] : ["key", "cert"];
  reporter(ctx)({
    path: [missing],
    message: `required with ${given}: a client certificate and its key go together`,
  });
}
