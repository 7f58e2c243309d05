/**
 * `npm run docs:config`: writes docs/config.md, the reference of every config key, generated so
 * that it cannot drift from what shadowdb accepts. test/unit/config-reference.test.ts renders it
 * again in memory and fails when the file differs.
 *
 * Where each column comes from:
 * - key paths, types, allowed values, defaults and required-ness: the zod schema itself
 *   (src/config/schema.ts `configSchema`), walked through zod v4's `_zod.def`. Not
 *   `z.toJSONSchema`: nearly every key sits behind a `z.preprocess` (numbers and booleans read
 *   from `${VAR}` text, `null` sections taking their defaults), which JSON Schema cannot express
 *   ("unrepresentable"), so it would lose the very keys that matter. The walk takes the schema a
 *   preprocess hands its value to, and the schema before a final transform. Where the schema has
 *   its own wording for what it expects (the messages of regexes, of `section(…, expected)`, of
 *   the brokers list), that wording is used.
 * - descriptions: the comments of config/postgres.yaml, the commented example that shows every
 *   key (a unit test keeps it that way). That file is where each key is explained for users
 *   today, and the schema carries no descriptions; copying the text into `.describe()` calls
 *   would give two texts to keep equal. A key's description is the comment block right above it
 *   plus its end-of-line comment; keys the example shows commented out (`# ssl:`, `#   ca: …`)
 *   count as keys when the schema has them; a line `word: text` inside a block above a key that
 *   has a child `word` describes that child (how the `tables:` block explains topic,
 *   topicPattern and table). config/mysql.yaml is not read: it repeats the same comments.
 *   Requirements that tie keys together (http.adminToken unless http.port is 0, masking.key
 *   with a hash mask, apply.transactionTopic in source mode) are checked across keys, not by a
 *   key's own schema, so the Required column says "no" and the description says when.
 */
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { z } from "zod";
import { configSchema } from "../src/config/schema.ts";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
export const outputFile = path.join(repoRoot, "docs", "config.md");
const examplePath = "config/postgres.yaml";

// ---------------------------------------------------------------------------------------------
// The schema

/** zod v4's internal definition: the fields this walk reads. */
interface Def {
  type: string;
  shape?: Record<string, Schema>;
  in?: Schema;
  out?: Schema;
  innerType?: Schema;
  element?: Schema;
  keyType?: Schema;
  valueType?: Schema;
  options?: Schema[];
  entries?: Record<string, string | number>;
  values?: unknown[];
  defaultValue?: unknown;
  discriminator?: string;
  checks?: { _zod: { def: CheckDef } }[];
  error?: (issue: unknown) => unknown;
}
interface CheckDef {
  check: string;
  minimum?: number;
  value?: number;
  inclusive?: boolean;
  format?: string;
  pattern?: RegExp;
  error?: (issue: unknown) => unknown;
}
type Schema = { _zod: { def: Def } } | z.ZodType;

const defOf = (schema: Schema) => (schema as { _zod: { def: Def } })._zod.def;

export interface KeyDoc {
  /** e.g. kafka.brokers, tables[].columns.mask.<column>.strategy */
  path: string;
  type: string;
  /** Enum or literal values, when the key takes a fixed set. */
  allowed: string[];
  required: boolean;
  /** When a required key is required, if not always: "in `kafka.sasl`", "with `strategy: constant`". */
  within: string | undefined;
  /** How the default reads, or undefined without one. */
  default: string | undefined;
}

interface Unwrapped {
  core: Def;
  optional: boolean;
  default: string | undefined;
}

/** Peels preprocess / transform pipes, optional, default and prefault off a key's schema. */
function unwrap(schema: Schema): Unwrapped {
  let def = defOf(schema);
  let optional = false;
  let fallback: string | undefined;
  for (;;) {
    if (def.type === "pipe") {
      // z.preprocess(fn, s) is pipe(transform, s); s.transform(fn) is pipe(s, transform).
      def = defOf(defOf(def.in!).type === "transform" ? def.out! : def.in!);
    } else if (def.type === "optional" || def.type === "nullable") {
      optional = true;
      def = defOf(def.innerType!);
    } else if (def.type === "default") {
      fallback ??= showValue(def.defaultValue);
      def = defOf(def.innerType!);
    } else if (def.type === "prefault") {
      // A section that may be left out: its keys take their own defaults.
      fallback ??= sectionDefault;
      def = defOf(def.innerType!);
    } else return { core: def, optional, default: fallback };
  }
}

/** The default of a section that may be left out (a prefault of {}): not a value to quote. */
const sectionDefault = "each key's default";

function showValue(value: unknown): string {
  if (typeof value === "string") return value;
  return JSON.stringify(value);
}

/** What the schema's own message says it expects for a wrong type, without "expected ". */
function expectedText(def: Def): string | undefined {
  let message: unknown;
  try {
    message = def.error?.({ code: "invalid_type", expected: def.type, input: undefined });
  } catch {
    return undefined;
  }
  return typeof message === "string" ? message.replace(/^expected /, "") : undefined;
}

function checkMessage(check: CheckDef): string | undefined {
  try {
    const message = check.error?.({ code: "invalid_format", input: "" });
    return typeof message === "string" ? message.replace(/^expected /, "") : undefined;
  } catch {
    return undefined;
  }
}

const checksOf = (def: Def) => (def.checks ?? []).map((c) => c._zod.def);

/** A type as the reference shows it, with its constraints. */
function typeText(def: Def): string {
  switch (def.type) {
    case "string": {
      const parts: string[] = [];
      for (const check of checksOf(def)) {
        if (check.check === "string_format" && check.format === "regex") {
          parts.push(checkMessage(check) ?? `matching \`${check.pattern}\``);
        } else if (check.check === "min_length" && check.minimum !== undefined) {
          parts.push(check.minimum === 1 ? "not empty" : `at least ${check.minimum} characters`);
        }
      }
      const named = parts.find((p) => !p.startsWith("at least") && p !== "not empty");
      if (named !== undefined) return named;
      return parts.length === 0 ? "string" : `string, ${parts.join(", ")}`;
    }
    case "number": {
      const integer =
        expectedText(def) === "an integer" ||
        checksOf(def).some((c) => c.check === "custom" && checkMessage(c) === "an integer");
      const min = checksOf(def).find((c) => c.check === "greater_than")?.value;
      const max = checksOf(def).find((c) => c.check === "less_than")?.value;
      const range = [
        min === undefined ? undefined : `≥ ${min}`,
        max === undefined || max >= Number.MAX_SAFE_INTEGER ? undefined : `≤ ${max}`,
      ].filter((r) => r !== undefined);
      return `${integer ? "integer" : "number"}${range.length === 0 ? "" : ` ${range.join(", ")}`}`;
    }
    case "boolean":
      return "boolean";
    case "enum":
      return "one of the allowed values";
    case "literal":
      return "the allowed value";
    case "array": {
      const own = expectedText(def);
      const min = checksOf(def).find((c) => c.check === "min_length")?.minimum;
      const element = unwrap(def.element!).core;
      const each = element.type === "object" ? "mapping (keys below)" : typeText(element);
      const base = own ?? `list, each ${each}`;
      return min === undefined || min === 0 ? base : `${base}; at least ${min}`;
    }
    case "object": {
      const own = expectedText(def);
      return own === undefined || own === "a mapping" ? "mapping" : own;
    }
    case "record": {
      const value = unwrap(def.valueType!).core;
      const each =
        value.type === "object" || value.type === "union" ? "a mapping (keys below)" : typeText(value);
      return `mapping, each value ${each}`;
    }
    case "union": {
      const kinds = [...new Set((def.options ?? []).map((o) => typeText(unwrap(o).core)))];
      if (kinds.length === 1 && kinds[0] === "mapping") return "mapping (keys below)";
      return kinds.join(" or ");
    }
    default:
      return def.type;
  }
}

function allowedValues(def: Def): string[] {
  if (def.type === "enum") return Object.values(def.entries ?? {}).map(String);
  if (def.type === "literal") return (def.values ?? []).map(String);
  return [];
}

/** Every key of the schema, depth first in the schema's order. */
export function schemaKeys(schema: Schema = configSchema): KeyDoc[] {
  const keys: KeyDoc[] = [];
  const visit = (def: Def, at: string, within: string | undefined) => {
    if (def.type === "object") {
      for (const [key, child] of Object.entries(def.shape ?? {})) {
        addKey(child, at === "" ? key : `${at}.${key}`, within);
      }
    } else if (def.type === "array") {
      const element = unwrap(def.element!).core;
      visit(element, `${at}[]`, `in each \`${at}[]\``);
    } else if (def.type === "record") {
      const placeholder = at.includes("columns") ? "<column>" : "<name>";
      addKey(def.valueType!, `${at}.${placeholder}`, within);
    } else if (def.type === "union" && def.discriminator !== undefined) {
      visitDiscriminated(def, at, within);
    }
  };
  const addKey = (schema: Schema, at: string, within: string | undefined) => {
    const { core, optional, default: fallback } = unwrap(schema);
    const placeholder = at.endsWith(">");
    keys.push({
      path: at,
      type: typeText(core),
      allowed: allowedValues(core),
      required: !optional && fallback === undefined && !placeholder,
      within,
      default: fallback,
    });
    const inner = optional || fallback !== undefined ? `in \`${at}\`` : within;
    visit(core, at, placeholder ? `in each \`${at}\`` : inner);
  };
  /** `{ strategy: hash } | { strategy: constant, value: … }`: one key per field, values merged. */
  const visitDiscriminated = (def: Def, at: string, within: string | undefined) => {
    const discriminator = def.discriminator!;
    const fields = new Map<string, { schemas: Schema[]; tags: string[] }>();
    for (const option of def.options ?? []) {
      const shape = unwrap(option).core.shape ?? {};
      const tag = allowedValues(unwrap(shape[discriminator]!).core).join(", ");
      for (const [key, child] of Object.entries(shape)) {
        const field = fields.get(key) ?? { schemas: [], tags: [] };
        field.schemas.push(child);
        field.tags.push(tag);
        fields.set(key, field);
      }
    }
    const all = (def.options ?? []).length;
    for (const [key, { schemas, tags }] of fields) {
      const path = `${at}.${key}`;
      if (key === discriminator) {
        keys.push({
          path,
          type: "one of the allowed values",
          allowed: schemas.flatMap((s) => allowedValues(unwrap(s).core)),
          required: true,
          within,
          default: undefined,
        });
        continue;
      }
      const { core, optional } = unwrap(schemas[0]!);
      keys.push({
        path,
        type: typeText(core),
        allowed: allowedValues(core),
        required: !optional,
        within: schemas.length === all ? within : `with \`${discriminator}: ${tags.join(" | ")}\``,
        default: undefined,
      });
    }
  };
  visit(unwrap(schema).core, "", undefined);
  return keys;
}

// ---------------------------------------------------------------------------------------------
// The example's comments

/** `kafka.brokers` → ["kafka", "brokers"]; list levels (`[]`) are not keys in YAML. */
const segmentsOf = (keyPath: string) => keyPath.replace(/\[\]/g, "").split(".");

function matches(schemaPath: string, yaml: string[]): boolean {
  const segments = segmentsOf(schemaPath);
  return segments.length === yaml.length && segments.every((s, i) => s === yaml[i] || s.startsWith("<"));
}

interface CommentLine {
  /** Column of the text after "# ". */
  column: number;
  text: string;
}

const keyLine = /^(\s*)(- )?([A-Za-z_][A-Za-z0-9_]*):(?:\s+(.*?))?\s*$/;

/** Splits `value   # comment` at the comment; a # inside a value (no space before it) stays. */
function splitComment(rest: string): { value: string; comment: string | undefined } {
  const at = rest.search(/(^|\s)#\s/);
  if (at < 0) return { value: rest.trim(), comment: undefined };
  return {
    value: rest.slice(0, at).trim(),
    comment: rest
      .slice(at)
      .replace(/^\s*#\s*/, "")
      .trim(),
  };
}

/**
 * Each schema key path → its description from the example's comments (see the header).
 * Paths with placeholders (`<column>`) collect every example line they match, shown with it.
 */
export function exampleDescriptions(yaml: string, keys: readonly KeyDoc[]): Map<string, string[]> {
  const descriptions = new Map<string, string[]>();
  const add = (schemaPath: string, text: string) => {
    const clean = text.replace(/\s+/g, " ").trim();
    if (clean === "") return;
    const list = descriptions.get(schemaPath) ?? [];
    if (!list.includes(clean)) list.push(clean);
    descriptions.set(schemaPath, list);
  };
  const find = (yamlPath: string[]) => keys.find((k) => matches(k.path, yamlPath));

  const stack: { indent: number; key: string }[] = [];
  let block: CommentLine[] = [];
  /** YAML paths of the real keys so far: the example shows each key once, outside lists. */
  const seen = new Set<string>();

  const onKey = (line: {
    indent: number;
    key: string;
    rest?: string;
    entry: boolean;
    commented: boolean;
  }) => {
    const parents = stack.filter((s) => s.indent < line.indent).map((s) => s.key);
    const yamlPath = [...parents, line.key];
    const found = find(yamlPath);
    if (found === undefined) return false;
    // "…Required with\n# transactional: source." is prose that happens to look like a key.
    if (line.commented && seen.has(yamlPath.join(".")) && !found.path.includes("[]")) return false;
    if (!line.commented) seen.add(yamlPath.join("."));
    while (stack.length > 0 && stack.at(-1)!.indent >= line.indent) stack.pop();
    stack.push({ indent: line.indent, key: line.key });
    const { value, comment } = splitComment(line.rest ?? "");
    const above = block.map((l) => l.text).join(" ");
    if (found.path.endsWith(">")) {
      add(found.path, `\`${line.key}: ${value}\`${comment === undefined ? "" : `: ${comment}`}`);
    } else if (line.entry) {
      // The block above "- key:" introduces the list entry, not its first key.
      const list = find(parents);
      if (list !== undefined) add(list.path, above);
      add(found.path, comment ?? "");
    } else add(found.path, `${above} ${comment ?? ""}`);
    describeChildren(yamlPath);
    block = [];
    return true;
  };

  /** `word: text` lines of the block above a key, for its children named `word`. */
  const describeChildren = (parent: string[]) => {
    for (let i = 0; i < block.length; i++) {
      const match = /^([A-Za-z_][A-Za-z0-9_]*): (.+)$/.exec(block[i]!.text.trim());
      const child = match === null ? undefined : find([...parent, match[1]!]);
      if (match === null || child === undefined) continue;
      const parts = [match[2]!];
      for (let j = i + 1; j < block.length && block[j]!.column > block[i]!.column; j++)
        parts.push(block[j]!.text);
      // "topic: …, or" / "topicPattern: …" : the list's glue is not part of either description.
      add(child.path, parts.join(" ").replace(/,? or$/, ""));
    }
  };

  for (const line of yaml.split("\n")) {
    if (line.trim() === "") {
      block = [];
      continue;
    }
    const comment = /^(\s*)#(?: (.*))?$/.exec(line);
    if (comment !== null) {
      const hash = comment[1]!.length;
      const body = comment[2] ?? "";
      const key = keyLine.exec(body);
      if (key !== null) {
        const entry = key[2] !== undefined;
        const indent = hash + key[1]!.length + (entry ? 2 : 0);
        if (onKey({ indent, key: key[3]!, rest: key[4], entry, commented: true })) continue;
      }
      const leading = body.length - body.trimStart().length;
      block.push({ column: hash + 2 + leading, text: body.trimStart() });
      continue;
    }
    const key = keyLine.exec(line);
    if (key !== null) {
      const entry = key[2] !== undefined;
      const indent = key[1]!.length + (entry ? 2 : 0);
      if (!onKey({ indent, key: key[3]!, rest: key[4], entry, commented: false })) block = [];
      continue;
    }
    block = [];
  }
  return descriptions;
}

// ---------------------------------------------------------------------------------------------
// The page

/**
 * Comment fragments joined: "an exact topic name (…)" + "listed before…" → "an exact topic name
 * (…). listed before….". No capitals added: a comment may start with a value (postgres, table).
 */
function sentences(parts: readonly string[], separator: string): string {
  return parts
    .map((part) => (separator === "; " || /[.!?:;]$/.test(part) ? part : `${part}.`))
    .join(separator);
}

const cell = (text: string) => text.replace(/\|/g, "\\|").replace(/\n/g, " ");
const code = (text: string) => (text.includes("`") ? `\`\` ${text} \`\`` : `\`${text}\``);

export interface Reference {
  markdown: string;
  /** Keys the example does not describe. */
  undescribed: string[];
}

export function renderReference(yaml: string, schema: Schema = configSchema): Reference {
  const keys = schemaKeys(schema);
  const descriptions = exampleDescriptions(yaml, keys);
  const undescribed: string[] = [];
  const lines = [
    "<!-- Generated by `npm run docs:config` (scripts/config-reference.ts) from the zod schema in",
    `     src/config/schema.ts and the comments of ${examplePath}. Do not edit: edit those and run it again. -->`,
    "",
    "# Configuration reference",
    "",
    "Every key of a shadowdb config file, as the schema accepts it. A config is one YAML file",
    `(\`--config FILE\`); [\`${examplePath}\`](../${examplePath}) and [\`config/mysql.yaml\`](../config/mysql.yaml)`,
    "show every key, commented. The descriptions below are those comments.",
    "",
    "- **Paths**: `a.b` is key `b` inside section `a`; `tables[]` is each entry of the `tables` list;",
    "  `<column>` stands for a column name you choose.",
    '- **Required**: must be present; "yes, in X" means whenever X is present. Some keys are',
    "  required only together with others (checked across keys); their description says when.",
    "- **Default**: what an absent key means. A section left out, or written with all its keys",
    "  commented out (YAML `null`), takes each key's default.",
    "- **Values**: `${VAR}` and `${VAR:-default}` in any value read the environment. Integers and",
    '  booleans may also be written as strings ("8080", "true"), so they can come from variables.',
    "  Unknown keys are errors.",
    "",
  ];
  let section: string | undefined;
  for (const key of keys) {
    const top = key.path.split(/[.[]/)[0]!;
    if (top !== section) {
      section = top;
      lines.push(
        `## \`${top}\``,
        "",
        "| Key | Type | Required | Default | Description |",
        "| --- | --- | --- | --- | --- |",
      );
    }
    const described = descriptions.get(key.path) ?? [];
    if (described.length === 0) undescribed.push(key.path);
    const type = key.allowed.length > 0 ? key.allowed.map(code).join(", ") : key.type;
    const required = key.required ? (key.within === undefined ? "yes" : `yes, ${key.within}`) : "no";
    lines.push(
      `| ${code(key.path)} | ${cell(type)} | ${cell(required)} | ${key.default === undefined ? "" : key.default === sectionDefault ? sectionDefault : cell(code(key.default))} | ${cell(sentences(described, key.path.endsWith(">") ? "; " : " "))} |`,
    );
    // A new section starts after a blank line.
    const next = keys[keys.indexOf(key) + 1];
    if (next === undefined || next.path.split(/[.[]/)[0] !== top) lines.push("");
  }
  return { markdown: `${lines.join("\n").trimEnd()}\n`, undescribed };
}

/** docs/config.md as the current schema and example make it. */
export async function renderConfigReference(): Promise<Reference> {
  return renderReference(await readFile(path.join(repoRoot, examplePath), "utf8"));
}

async function main(): Promise<void> {
  const { markdown, undescribed } = await renderConfigReference();
  await writeFile(outputFile, markdown);
  console.error(`wrote ${path.relative(repoRoot, outputFile)}`);
  if (undescribed.length > 0) {
    console.error(`keys without a comment in ${examplePath}: ${undescribed.join(", ")}`);
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
