/**
 * `topicPattern` and the `$1`, `$2`… it lends to `table`. A pattern must match the whole topic
 * name, as Kafka's and Debezium's own patterns do, so `pgprod\.public\.order` does not also
 * catch `pgprod.public.orders`.
 */
import { isIdentifier } from "./identifiers.ts";

export function compileTopicPattern(source: string): RegExp {
  return new RegExp(`^(?:${source})$`);
}

/** The number of capture groups: an alternative that matches "" reveals them all. */
export function groupCount(source: string): number {
  return (new RegExp(`(?:${source})|`).exec("")?.length ?? 1) - 1;
}

/** Why a pattern does not compile (the engine's reason, without the pattern it quotes), or undefined. */
export function patternError(source: string): string | undefined {
  try {
    compileTopicPattern(source);
    return undefined;
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return message.slice(message.lastIndexOf(": ") + 2);
  }
}

/** A parsed `table` template: literal text and group references. */
export type TemplatePart = string | { group: number };

/**
 * `$n` (all digits that follow) is group n, `$$` a literal `$`, any other `$` is itself (it is
 * legal inside identifiers).
 */
export function parseTemplate(template: string): TemplatePart[] {
  const parts: TemplatePart[] = [];
  let literal = "";
  let i = 0;
  while (i < template.length) {
    const char = template[i];
    const next = template[i + 1];
    if (char === "$" && next === "$") {
      literal += "$";
      i += 2;
    } else if (char === "$" && next !== undefined && next >= "0" && next <= "9") {
      const digits = /^\d+/.exec(template.slice(i + 1))?.[0] ?? "";
      if (literal !== "") parts.push(literal);
      literal = "";
      parts.push({ group: Number(digits) });
      i += 1 + digits.length;
    } else {
      literal += char;
      i += 1;
    }
  }
  if (literal !== "") parts.push(literal);
  return parts;
}

export function groupsOf(parts: readonly TemplatePart[]): number[] {
  return parts.flatMap((part) => (typeof part === "string" ? [] : [part.group]));
}

/** Fills the template from a match; a group that took no part in the match becomes "". */
export function fillTemplate(parts: readonly TemplatePart[], match: RegExpExecArray): string {
  return parts.map((part) => (typeof part === "string" ? part : (match[part.group] ?? ""))).join("");
}

/**
 * Whether a template can yield "schema.table": with every group standing for an identifier it
 * must give one or two identifiers (one when a group captures "schema.table" itself).
 */
export function templateCanYieldTable(parts: readonly TemplatePart[]): boolean {
  const sample = parts.map((part) => (typeof part === "string" ? part : "x")).join("");
  const pieces = sample.split(".");
  return pieces.length <= 2 && pieces.every(isIdentifier);
}
