/**
 * Where secrets live in a config, for log redaction and for error messages, which must never
 * repeat a secret. `target.url`, `seed.source.url` and `kafka.schemaRegistry.url` are listed
 * because they may carry a password; they are shown with only the password hidden (redactUrl),
 * the others are hidden whole.
 */
import type { KeyPath } from "./path.ts";

export const secretPaths = [
  "kafka.sasl.password",
  "kafka.ssl.key",
  "kafka.schemaRegistry.password",
  "kafka.schemaRegistry.token",
  "kafka.schemaRegistry.tls.key",
  "http.adminToken",
  "masking.key",
  "target.url",
  "kafka.schemaRegistry.url",
  "seed.source.url",
] as const;

const secretSegments = secretPaths.map((path) => path.split("."));

/**
 * True for a secret's path, and also for its ancestors and descendants: a secret written in the
 * wrong shape (`sasl: "user:password"`, `masking: "key"`) is still a secret.
 */
export function isSecretPath(path: KeyPath): boolean {
  return secretSegments.some((secret) => {
    const shared = Math.min(secret.length, path.length);
    for (let i = 0; i < shared; i++) if (secret[i] !== path[i]) return false;
    return true;
  });
}

export function isUrlPath(path: KeyPath): boolean {
  const text = path.join(".");
  return text === "target.url" || text === "seed.source.url" || text === "kafka.schemaRegistry.url";
}

const secretQueryParameter = /([?&;](?:password|passwd|pwd|pass|secret|token|sslpassword)=)[^&;#]*/gi;

/**
 * The URL with its password (and password-like query parameters) replaced by `***`. A string
 * that does not parse as a URL loses everything before its last `@`, where a password would be.
 */
export function redactUrl(url: string): string {
  let redacted: string;
  try {
    const parsed = new URL(url);
    if (parsed.password !== "") parsed.password = "***";
    redacted = parsed.href;
    // URL serialisation may re-encode the rest; keep the user's spelling when nothing was hidden.
    if (parsed.password === "") redacted = url;
  } catch {
    const at = url.lastIndexOf("@");
    redacted = at < 0 ? url : `***${url.slice(at)}`;
  }
  return redacted.replace(secretQueryParameter, "$1***");
}

/** pino paths: a Config logged at the root of an entry or under `config`. */
export const redactPaths: string[] = secretPaths.flatMap((path) => [path, `config.${path}`]);

/** pino's `redact` option: URLs keep everything but the password, other secrets are replaced whole. */
export const redactOptions = {
  paths: redactPaths,
  censor: (value: unknown, path: string[]): unknown =>
    path.at(-1) === "url" && typeof value === "string" ? redactUrl(value) : "[Redacted]",
};
