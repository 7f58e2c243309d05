/**
 * `${VAR}` and `${VAR:-default}` in config values. Interpolation runs on the parsed document's
 * string values, not on the file's text, so a variable can never add YAML structure: whatever
 * it holds stays one string. Mapping keys are not interpolated. `$${` is a literal `${`.
 */
import { ShadowdbError } from "../errors.ts";
import type { KeyPath } from "./path.ts";
import { formatPath } from "./path.ts";
import { isSecretPath } from "./secrets.ts";

export type Env = Readonly<Record<string, string | undefined>>;

interface Findings {
  missing: string[];
  malformed: string[];
}

const reference = /^([A-Za-z_][A-Za-z0-9_]*)(?::-(.*))?$/s;

/**
 * The document with every reference replaced. All unset variables are reported together
 * (CONFIG_ENV_MISSING), as are malformed references (CONFIG_INVALID). `source` (the file name)
 * prefixes the message.
 */
export function interpolateEnv(document: unknown, env: Env, source?: string): unknown {
  const findings: Findings = { missing: [], malformed: [] };
  const result = walk(document, [], env, findings);
  const prefix = source === undefined ? "" : `${source}: `;
  if (findings.malformed.length > 0) {
    throw new ShadowdbError(
      "CONFIG_INVALID",
      `${prefix}malformed \${…} references (write \${NAME} or \${NAME:-default}, and $\${ for a literal \${):\n  ${findings.malformed.join("\n  ")}`,
    );
  }
  if (findings.missing.length > 0) {
    throw new ShadowdbError(
      "CONFIG_ENV_MISSING",
      `${prefix}environment variables are not set (set them, or give a default with \${NAME:-default}):\n  ${findings.missing.join("\n  ")}`,
    );
  }
  return result;
}

function walk(value: unknown, path: KeyPath, env: Env, findings: Findings): unknown {
  if (typeof value === "string") return interpolateString(value, path, env, findings);
  if (Array.isArray(value)) return value.map((item, i) => walk(item, [...path, i], env, findings));
  if (typeof value === "object" && value !== null) {
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [key, walk(item, [...path, key], env, findings)]),
    );
  }
  return value;
}

function interpolateString(text: string, path: KeyPath, env: Env, findings: Findings): string {
  let result = "";
  let i = 0;
  while (i < text.length) {
    const dollar = text.indexOf("$", i);
    if (dollar < 0) break;
    result += text.slice(i, dollar);
    if (text.startsWith("$${", dollar)) {
      result += "${";
      i = dollar + 3;
    } else if (text.startsWith("${", dollar)) {
      const close = text.indexOf("}", dollar + 2);
      const body = close < 0 ? undefined : text.slice(dollar + 2, close);
      const match = body === undefined ? null : reference.exec(body);
      const [, name, fallback] = match ?? [];
      if (name === undefined || fallback?.includes("${")) {
        findings.malformed.push(malformed(text, dollar, close, path));
        return text;
      }
      const set = env[name];
      // As in the shell, `:-` also replaces an empty value.
      if (set !== undefined && !(set === "" && fallback !== undefined)) result += set;
      else if (fallback !== undefined) result += fallback;
      else findings.missing.push(`${formatPath(path)}: ${name} is not set`);
      i = close + 1;
    } else {
      result += "$";
      i = dollar + 1;
    }
  }
  return result + text.slice(i);
}

/** Names the bad reference, unless the value is a secret: then only where it starts. */
function malformed(text: string, start: number, close: number, path: KeyPath): string {
  const where = formatPath(path);
  // biome-ignore lint/suspicious/noTemplateCurlyInString: the message spells out the syntax
  const problem = close < 0 ? "has no closing }" : "is not ${NAME} or ${NAME:-default}";
  if (isSecretPath(path)) return `${where}: the reference at character ${start + 1} ${problem}`;
  const shown = text.slice(start, close < 0 ? undefined : close + 1);
  return `${where}: ${JSON.stringify(shown)} ${problem}`;
}
