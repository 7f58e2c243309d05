/**
 * A connector's configuration holds its database password (and maybe other credentials): what
 * `shadowdb connectors` prints never shows them. Settings whose name says they hold a secret
 * are shown as ***, URLs lose their password (redactUrl), and the secret values are cut out of
 * any text Connect sends back (its error messages and traces may repeat a value).
 */
import { redactUrl } from "../config/index.ts";

const secretName = /password|secret|credential|jaas\.config/i;

export function isSecretSetting(name: string): boolean {
  return secretName.test(name);
}

/** A setting's value as it may be printed. */
export function shownValue(setting: string, value: string | undefined): string {
  if (value === undefined) return "(not set)";
  if (isSecretSetting(setting)) return "***";
  if (!value.includes("://")) return value;
  // redactUrl, then the same for URLs it cannot parse as such (jdbc:postgresql://u:pw@h/db, lists).
  return redactUrl(value).replace(/(\/\/[^/:@\s,]*:)[^@/\s,]+@/g, "$1***@");
}

/**
 * Replaces the config's secret values in `text`. Values shorter than 3 characters are left alone:
 * cutting every "a" out of a message would make it unreadable and hide nothing worth hiding.
 */
export function scrubber(config: Readonly<Record<string, string>>): (text: string) => string {
  const secrets = Object.entries(config)
    .filter(([name, value]) => isSecretSetting(name) && value.length >= 3)
    .map(([, value]) => value)
    .sort((a, b) => b.length - a.length);
  return (text) => secrets.reduce((scrubbed, secret) => scrubbed.split(secret).join("***"), text);
}
