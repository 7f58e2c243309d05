import type { KeyPath } from "./path.ts";
import { isSecretPath, isUrlPath, redactUrl } from "./secrets.ts";

const longest = 80;

/** How a value is quoted after "got" in a config message; secrets are described, never shown. */
export function describeValue(value: unknown, path: KeyPath): string {
  if (isUrlPath(path) && typeof value === "string") return quote(redactUrl(value));
  if (isSecretPath(path)) {
    if (typeof value === "string") return `${value.length} characters (value hidden)`;
    return value === null || typeof value === "object" ? kindOf(value) : `a ${typeof value} (value hidden)`;
  }
  return typeof value === "string" ? quote(value) : kindOf(value);
}

function quote(text: string): string {
  return JSON.stringify(text.length > longest ? `${text.slice(0, longest - 1)}…` : text);
}

function kindOf(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return value.length === 0 ? "an empty list" : "a list";
  switch (typeof value) {
    case "object":
      return "a mapping";
    case "string":
      return "a string";
    case "number":
    case "boolean":
    case "bigint":
      return String(value);
    default:
      return typeof value;
  }
}
