/**
 * shadowdb's own tables in the target: Kafka positions (the source of truth), dead letters, and
 * the registry of installed overlays.
 */
import type mysql from "mysql2/promise";
import { ShadowdbError } from "../../errors.ts";
import { storableLetter } from "../dead-letter-text.ts";
import type { DeadLetter, OverlayNames, Position, QualifiedName, StoredDeadLetter } from "../dialect.ts";
import { qualified, schemaParam } from "./sql.ts";

export const positionsDdl = `CREATE TABLE IF NOT EXISTS shadowdb_positions (
     group_id varchar(255) NOT NULL,
     topic varchar(249) NOT NULL,
     \`partition\` int NOT NULL,
     next_offset bigint NOT NULL,
     updated_at timestamp(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
     PRIMARY KEY (group_id, topic, \`partition\`)) ENGINE=InnoDB`;

/**
 * Dead letters go to the table the config names (default shadowdb_dead_letters). utf8mb4 whatever
 * the database's default: a latin1 or utf8mb3 message column refuses much of what an error can
 * quote (a table made before keeps its set; apply stores a reduced letter when it refuses one).
 */
export function deadLettersDdl(table: QualifiedName): string {
  return `CREATE TABLE IF NOT EXISTS ${qualified(table)} (
     id bigint NOT NULL AUTO_INCREMENT PRIMARY KEY,
     group_id varchar(255) NOT NULL,
     topic varchar(249) NOT NULL,
     \`partition\` int NOT NULL,
     kafka_offset bigint NOT NULL,
     record_key longblob,
     record_value longblob,
     code varchar(64) NOT NULL,
     message text NOT NULL,
     created_at timestamp(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`;
}

export async function readPositions(conn: mysql.Connection, groupId: string): Promise<Position[]> {
  const [rows] = await conn.execute(
    "SELECT topic, `partition`, CAST(next_offset AS CHAR) AS next_offset FROM shadowdb_positions WHERE group_id = ?",
    [groupId],
  );
  return (rows as { topic: string; partition: number; next_offset: string }[]).map((r) => ({
    topic: r.topic,
    partition: Number(r.partition),
    offset: String(r.next_offset),
  }));
}

export async function lockPosition(
  conn: mysql.Connection,
  groupId: string,
  topic: string,
  partition: number,
): Promise<string | undefined> {
  const [rows] = await conn.execute(
    "SELECT CAST(next_offset AS CHAR) AS next_offset FROM shadowdb_positions WHERE group_id = ? AND topic = ? AND `partition` = ? FOR UPDATE",
    [groupId, topic, partition],
  );
  return (rows as { next_offset: string }[])[0]?.next_offset;
}

export async function savePositions(
  conn: mysql.Connection,
  groupId: string,
  positions: Position[],
): Promise<void> {
  if (positions.length === 0) return;
  const values = positions.map(() => "(?, ?, ?, ?)").join(", ");
  await conn.execute(
    `INSERT INTO shadowdb_positions (group_id, topic, \`partition\`, next_offset) VALUES ${values}
     ON DUPLICATE KEY UPDATE next_offset = VALUES(next_offset)`,
    positions.flatMap((p) => [groupId, p.topic, p.partition, p.offset]),
  );
}

/**
 * An upper bound on the bytes of saveDeadLetters' INSERT of `letter` as the server receives it
 * (COM_STMT_EXECUTE: a header, the parameters' types, each value with its length prefix), which
 * the server refuses, closing the connection, past max_allowed_packet. Generous by a KiB.
 */
export function letterStatementBytes(groupId: string, letter: DeadLetter): number {
  const l = storableLetter(letter);
  const texts = [groupId, l.topic, String(l.partition), l.offset, l.code, l.message];
  let bytes = 1024 + 9 * (texts.length + 2) + (l.key?.length ?? 0) + (l.value?.length ?? 0);
  for (const text of texts) bytes += Buffer.byteLength(text, "utf8");
  return bytes;
}

export async function saveDeadLetters(
  conn: mysql.Connection,
  table: QualifiedName,
  groupId: string,
  letters: DeadLetter[],
): Promise<void> {
  for (const letter of letters) {
    // Whoever calls: text the column cannot hold must not refuse the letter (dead-letter-text.ts).
    const l = storableLetter(letter);
    await conn.execute(
      `INSERT INTO ${qualified(table)} (group_id, topic, \`partition\`, kafka_offset, record_key, record_value, code, message)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      [groupId, l.topic, l.partition, l.offset, l.key, l.value, l.code, l.message],
    );
  }
}

export async function storedDeadLetters(
  conn: mysql.Connection,
  table: QualifiedName,
  groupId: string,
  limit: number,
): Promise<StoredDeadLetter[]> {
  const [rows] = await conn.query(
    // ORDER BY the column, not the text alias: "10" sorts before "9".
    `SELECT CAST(l.id AS CHAR) AS id, topic, \`partition\`, CAST(kafka_offset AS CHAR) AS kafka_offset,
            record_key, record_value, code, message
       FROM ${qualified(table)} l WHERE group_id = ? ORDER BY l.id LIMIT ?`,
    [groupId, limit],
  );
  return (
    rows as {
      id: string;
      topic: string;
      partition: number;
      kafka_offset: string;
      record_key: Buffer | null;
      record_value: Buffer | null;
      code: DeadLetter["code"];
      message: string;
    }[]
  ).map((r) => ({
    id: String(r.id),
    topic: r.topic,
    partition: Number(r.partition),
    offset: String(r.kafka_offset),
    key: r.record_key,
    value: r.record_value,
    code: r.code,
    message: r.message,
  }));
}

export async function removeDeadLetters(
  conn: mysql.Connection,
  table: QualifiedName,
  ids: string[],
): Promise<void> {
  if (ids.length === 0) return;
  await conn.query(`DELETE FROM ${qualified(table)} WHERE id IN (?)`, [ids]);
}

/**
 * The overlay registry: one row per table whose overlay is installed. Apply locks its table's row
 * shared for each overlay-aware write, reset locks it exclusively, so they serialise per table.
 * It lives next to shadowdb_positions, in the session's database. Names compare as MySQL
 * compares table names on Linux: exactly.
 */
export const overlaysDdl = `CREATE TABLE IF NOT EXISTS shadowdb_overlays (
     schema_name varchar(64) NOT NULL,
     table_name varchar(64) NOT NULL,
     owned_table varchar(64) NOT NULL,
     copy_table varchar(64) NOT NULL,
     installed_at timestamp(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
     PRIMARY KEY (schema_name, table_name)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`;

const registryKey = `schema_name = ${schemaParam} AND table_name = ?`;
const NO_SUCH_TABLE = 1146;

/**
 * Locks the table's registry row (shared for a write, exclusive for reset and uninstall). Throws
 * OVERLAY_NOT_INSTALLED when the table has no row, unless `missing` is "ok" (then returns false).
 */
export async function lockOverlay(
  conn: mysql.Connection,
  table: QualifiedName,
  mode: "share" | "update",
  missing: "throw" | "ok" = "throw",
): Promise<boolean> {
  // LOCK IN SHARE MODE: MariaDB has no FOR SHARE; MySQL 8 still takes the old spelling.
  const lock = mode === "share" ? "LOCK IN SHARE MODE" : "FOR UPDATE";
  let found: boolean;
  try {
    const [rows] = await conn.execute(`SELECT 1 AS one FROM shadowdb_overlays WHERE ${registryKey} ${lock}`, [
      table.schema,
      table.name,
    ]);
    found = (rows as unknown[]).length > 0;
  } catch (error) {
    if ((error as { errno?: unknown }).errno !== NO_SUCH_TABLE) throw error;
    found = false;
  }
  if (found || missing === "ok") return found;
  throw new ShadowdbError(
    "OVERLAY_NOT_INSTALLED",
    `${table.schema}.${table.name} has no overlay (no row in shadowdb_overlays)`,
  );
}

/** Adds the table's registry row, or keeps it (and its installed_at) when it is there. */
export async function registerOverlay(conn: mysql.Connection, names: OverlayNames): Promise<void> {
  await conn.execute(
    `INSERT INTO shadowdb_overlays (schema_name, table_name, owned_table, copy_table)
     VALUES (${schemaParam}, ?, ?, ?)
     ON DUPLICATE KEY UPDATE owned_table = VALUES(owned_table), copy_table = VALUES(copy_table)`,
    [names.table.schema, names.table.name, names.owned.name, names.copy.name],
  );
}

export async function unregisterOverlay(conn: mysql.Connection, table: QualifiedName): Promise<void> {
  await conn.execute(`DELETE FROM shadowdb_overlays WHERE ${registryKey}`, [table.schema, table.name]);
}

export async function listOverlays(conn: mysql.Connection): Promise<QualifiedName[]> {
  try {
    const [rows] = await conn.query(
      "SELECT schema_name, table_name FROM shadowdb_overlays ORDER BY schema_name, table_name",
    );
    return (rows as { schema_name: string; table_name: string }[]).map((r) => ({
      schema: r.schema_name,
      name: r.table_name,
    }));
  } catch (error) {
    if ((error as { errno?: unknown }).errno === NO_SUCH_TABLE) return [];
    throw error;
  }
}

export async function countDeadLetters(
  conn: mysql.Connection,
  table: QualifiedName,
  groupId: string,
): Promise<number> {
  try {
    const [rows] = await conn.execute(
      `SELECT CAST(COUNT(*) AS CHAR) AS n FROM ${qualified(table)} WHERE group_id = ?`,
      [groupId],
    );
    return Number((rows as { n: string }[])[0]!.n);
  } catch (error) {
    if ((error as { errno?: unknown }).errno === NO_SUCH_TABLE) return 0;
    throw error;
  }
}
