/** MySQL/MariaDB errors → catalogue codes, by errno (and Node's errno for the socket). */
import { ShadowdbError } from "../../errors.ts";
import type { ClassifiedError } from "../dialect.ts";

const connectionCodes = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "EPIPE",
  "ETIMEDOUT",
  "ENOTFOUND",
  "EHOSTUNREACH",
  "PROTOCOL_CONNECTION_LOST",
]);
// 2006 server gone away, 2013 lost connection, 1053 server shutdown, 1927 connection killed, 1040 too many connections.
const connectionErrnos = new Set([2006, 2013, 1053, 1927, 1040]);
const constraintErrnos = new Set([1062, 1048, 1451, 1452, 1557, 1586, 3819, 4025]);
const dataErrnos = new Set([1264, 1265, 1292, 1366, 1367, 1406, 1411, 1416, 3140, 4078]);
const schemaErrnos = new Set([1054, 1146, 1049, 1051, 1060, 1091, 1113, 1118, 1072]);
const privilegeErrnos = new Set([1044, 1045, 1142, 1143, 1227]);

export function classifyMysql(error: unknown): ClassifiedError {
  // The dialect's own errors (no overlay installed, a table without a key) carry their code.
  if (error instanceof ShadowdbError) return { code: error.code, retriable: error.retriable };
  const { code, errno } = error as { code?: unknown; errno?: unknown };
  if (typeof code === "string" && connectionCodes.has(code))
    return { code: "TARGET_CONNECTION", retriable: true };
  if (typeof errno !== "number") return { code: "TARGET_CONNECTION", retriable: true };
  if (connectionErrnos.has(errno)) return { code: "TARGET_CONNECTION", retriable: true };
  if (errno === 1213) return { code: "TARGET_DEADLOCK", retriable: true };
  if (errno === 1205) return { code: "TARGET_SERIALIZATION", retriable: true };
  if (constraintErrnos.has(errno)) return { code: "TARGET_CONSTRAINT", retriable: false };
  if (dataErrnos.has(errno)) return { code: "TARGET_DATA", retriable: false };
  if (schemaErrnos.has(errno)) return { code: "TARGET_SCHEMA", retriable: false };
  if (privilegeErrnos.has(errno)) return { code: "TARGET_PRIVILEGE", retriable: false };
  return { code: "TARGET_OTHER", retriable: false };
}
