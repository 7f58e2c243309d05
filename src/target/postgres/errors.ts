/** PostgreSQL errors → catalogue codes, by SQLSTATE class (and Node's errno for the socket). */
import type { ClassifiedError } from "../dialect.ts";

const connectionErrnos = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "EPIPE",
  "ETIMEDOUT",
  "ENOTFOUND",
  "EHOSTUNREACH",
]);

export function classifyPostgres(error: unknown): ClassifiedError {
  const code = (error as { code?: unknown }).code;
  if (typeof code !== "string") {
    // pg reports a dropped socket without a SQLSTATE ("Connection terminated unexpectedly").
    return { code: "TARGET_CONNECTION", retriable: true };
  }
  if (connectionErrnos.has(code)) return { code: "TARGET_CONNECTION", retriable: true };
  if (code === "40P01") return { code: "TARGET_DEADLOCK", retriable: true };
  if (code === "40001" || code === "55P03") return { code: "TARGET_SERIALIZATION", retriable: true };
  const sqlClass = code.slice(0, 2);
  switch (sqlClass) {
    case "08": // connection exception
    case "57": // operator intervention: admin shutdown, crash shutdown, cannot connect now
    case "53": // insufficient resources
      return { code: "TARGET_CONNECTION", retriable: true };
    case "23":
      return { code: "TARGET_CONSTRAINT", retriable: false };
    case "22":
      return { code: "TARGET_DATA", retriable: false };
    case "42":
      return code === "42501"
        ? { code: "TARGET_PRIVILEGE", retriable: false }
        : { code: "TARGET_SCHEMA", retriable: false };
    default:
      return { code: "TARGET_OTHER", retriable: false };
  }
}
