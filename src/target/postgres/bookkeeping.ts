/** shadowdb's own tables in the target: Kafka positions (the source of truth) and dead letters. */
import type pg from "pg";
import type { DeadLetter, Position, QualifiedName } from "../dialect.ts";
import { qualified } from "./sql.ts";

export const positionsDdl = `CREATE TABLE IF NOT EXISTS shadowdb_positions (
     group_id text NOT NULL,
     topic text NOT NULL,
     "partition" integer NOT NULL,
     next_offset bigint NOT NULL,
     updated_at timestamptz NOT NULL DEFAULT now(),
     PRIMARY KEY (group_id, topic, "partition"))`;

/** Dead letters go to the table the config names (default shadowdb_dead_letters). */
export function deadLettersDdl(table: QualifiedName): string {
  return `CREATE TABLE IF NOT EXISTS ${qualified(table)} (
     id bigserial PRIMARY KEY,
     group_id text NOT NULL,
     topic text NOT NULL,
     "partition" integer NOT NULL,
     kafka_offset bigint NOT NULL,
     record_key bytea,
     record_value bytea,
     code text NOT NULL,
     message text NOT NULL,
     created_at timestamptz NOT NULL DEFAULT now())`;
}

export async function readPositions(client: pg.ClientBase, groupId: string): Promise<Position[]> {
  const { rows } = await client.query<{ topic: string; partition: number; next_offset: string }>(
    `SELECT topic, "partition", next_offset::text AS next_offset FROM shadowdb_positions WHERE group_id = $1`,
    [groupId],
  );
  return rows.map((r) => ({ topic: r.topic, partition: r.partition, offset: r.next_offset }));
}

export async function lockPosition(
  client: pg.ClientBase,
  groupId: string,
  topic: string,
  partition: number,
): Promise<string | undefined> {
  const { rows } = await client.query<{ next_offset: string }>(
    `SELECT next_offset::text AS next_offset FROM shadowdb_positions
      WHERE group_id = $1 AND topic = $2 AND "partition" = $3 FOR UPDATE`,
    [groupId, topic, partition],
  );
  return rows[0]?.next_offset;
}

export async function savePositions(
  client: pg.ClientBase,
  groupId: string,
  positions: Position[],
): Promise<void> {
  if (positions.length === 0) return;
  await client.query(
    `INSERT INTO shadowdb_positions (group_id, topic, "partition", next_offset)
     SELECT $1, * FROM unnest($2::text[], $3::integer[], $4::bigint[])
     ON CONFLICT (group_id, topic, "partition") DO UPDATE SET next_offset = EXCLUDED.next_offset, updated_at = now()`,
    [
      groupId,
      positions.map((p) => p.topic),
      positions.map((p) => p.partition),
      positions.map((p) => p.offset),
    ],
  );
}

export async function saveDeadLetters(
  client: pg.ClientBase,
  table: QualifiedName,
  groupId: string,
  letters: DeadLetter[],
): Promise<void> {
  for (const l of letters) {
    await client.query(
      `INSERT INTO ${qualified(table)} (group_id, topic, "partition", kafka_offset, record_key, record_value, code, message)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
      [groupId, l.topic, l.partition, l.offset, l.key, l.value, l.code, l.message],
    );
  }
}
