/**
 * Reading a config: file → YAML → `${VAR}` interpolation → schema. Each step fails with one
 * ShadowdbError that names the file, and validation lists every problem at once, so that one
 * round of edits can fix them all.
 */
import { readFile } from "node:fs/promises";
import { dirname } from "node:path";
import { parseDocument } from "yaml";
import { ShadowdbError } from "../errors.ts";
import { type Env, interpolateEnv } from "./env.ts";
import { expectations, formatIssues, inDocumentOrder } from "./issues.ts";
import { readPemFiles } from "./pem.ts";
import { type Config, configSchema } from "./schema.ts";

/** Reads, validates and completes (PEM files read) the config at `path`. */
export async function loadConfig(path: string, env: Env = process.env): Promise<Config> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new ShadowdbError("CONFIG_UNREADABLE", `${path}: cannot read the config file: ${reason}`, {
      cause: error,
    });
  }
  return readPemFiles(parseConfig(text, path, env), dirname(path), path);
}

/**
 * Validates config text; `source` names it in messages. Leaves `kafka.ssl` file paths as
 * written (loadConfig reads them).
 */
export function parseConfig(text: string, source: string, env: Env = process.env): Config {
  const document = interpolateEnv(parseYaml(text, source), env, source);
  const parsed = configSchema.safeParse(document, { error: expectations, reportInput: true });
  if (parsed.success) return parsed.data;
  const problems = formatIssues(inDocumentOrder(parsed.error.issues, document));
  const count = problems.length === 1 ? "1 problem" : `${problems.length} problems`;
  throw new ShadowdbError(
    "CONFIG_INVALID",
    `${source}: invalid config (${count}):\n  ${problems.join("\n  ")}`,
  );
}

/**
 * The document as plain data. Warnings (an unknown `!tag`, say) count as errors: a config
 * should mean one thing. The parser's own text quotes the offending line, which may hold a
 * secret, so only its first sentence and the position are kept, and it is not the cause.
 */
function parseYaml(text: string, source: string): unknown {
  const document = parseDocument(text, { uniqueKeys: true });
  const problems = [...document.errors, ...document.warnings].map((problem) => {
    const position = problem.linePos?.[0];
    const where = position ? `line ${position.line}, column ${position.col}` : "unknown position";
    const reason =
      problem.code === "MULTIPLE_DOCS"
        ? "more than one YAML document (---); a config is one document"
        : (problem.message.split("\n")[0] ?? "").replace(/ at line \d+, column \d+:?$/, "");
    return `${where}: ${reason}`;
  });
  if (problems.length > 0) {
    // One syntax error often confuses the parser for the rest of the file; the first few matter.
    const shown =
      problems.length > 5 ? [...problems.slice(0, 5), `… and ${problems.length - 5} more`] : problems;
    throw new ShadowdbError("CONFIG_UNREADABLE", `${source}: not valid YAML:\n  ${shown.join("\n  ")}`);
  }
  return document.toJS({ maxAliasCount: 100 });
}
