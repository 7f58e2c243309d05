/** shadowdb's own tables in the target: Kafka positions (the source of truth) and dead letters. */
import type mysql from "mysql2/promise";
import type { DeadLetter, Position, QualifiedName } from "../dialect.ts";
import { qualified } from "./sql.ts";

export const positionsDdl = `CREATE TABLE IF NOT EXISTS shadowdb_positions (
     group_id varchar(255) NOT NULL,
     topic varchar(249) NOT NULL,
     \`partition\` int NOT NULL,
     next_offset bigint NOT NULL,
     updated_at timestamp(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
     PRIMARY KEY (group_id, topic, \`partition\`)) ENGINE=InnoDB`;

/** Dead letters go to the table the config names (default shadowdb_dead_letters). */
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
     created_at timestamp(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)) ENGINE=InnoDB`;
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

export async function saveDeadLetters(
  conn: mysql.Connection,
  table: QualifiedName,
  groupId: string,
  letters: DeadLetter[],
): Promise<void> {
  for (const l of letters) {
    await conn.execute(
      `INSERT INTO ${qualified(table)} (group_id, topic, \`partition\`, kafka_offset, record_key, record_value, code, message)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      [groupId, l.topic, l.partition, l.offset, l.key, l.value, l.code, l.message],
    );
  }
}
