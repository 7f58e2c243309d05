/**
 * shadowdb's own tables in the target: Kafka positions (the source of truth), dead letters, and
 * the registry of installed overlays.
 */
import type pg from "pg";
import { ShadowdbError } from "../../errors.ts";
import { storableLetter } from "../dead-letter-text.ts";
import type { DeadLetter, OverlayNames, Position, QualifiedName, StoredDeadLetter } from "../dialect.ts";
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

/**
 * The most bytes one bytea value takes: a datum is at most 1 GB (MaxAllocSize, 2^30 - 1) with its
 * 4-byte header. A record this large is beyond what Kafka clients carry; the check keeps such a
 * letter from being sent at all, as MariaDB's does (docs/dead-letters.md).
 */
export const maxByteaBytes = 2 ** 30 - 1 - 4;

export async function saveDeadLetters(
  client: pg.ClientBase,
  table: QualifiedName,
  groupId: string,
  letters: DeadLetter[],
): Promise<void> {
  for (const letter of letters) {
    // Whoever calls: text the column cannot hold must not refuse the letter (dead-letter-text.ts).
    const l = storableLetter(letter);
    await client.query(
      `INSERT INTO ${qualified(table)} (group_id, topic, "partition", kafka_offset, record_key, record_value, code, message)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
      [groupId, l.topic, l.partition, l.offset, l.key, l.value, l.code, l.message],
    );
  }
}

export async function storedDeadLetters(
  client: pg.ClientBase,
  table: QualifiedName,
  groupId: string,
  limit: number,
): Promise<StoredDeadLetter[]> {
  const { rows } = await client.query<{
    id: string;
    topic: string;
    partition: number;
    kafka_offset: string;
    record_key: Buffer | null;
    record_value: Buffer | null;
    code: DeadLetter["code"];
    message: string;
  }>(
    // ORDER BY the column, not the text alias: "10" sorts before "9".
    `SELECT l.id::text AS id, topic, "partition", kafka_offset::text AS kafka_offset, record_key, record_value, code, message
       FROM ${qualified(table)} l WHERE group_id = $1 ORDER BY l.id LIMIT $2`,
    [groupId, limit],
  );
  return rows.map((r) => ({
    id: r.id,
    topic: r.topic,
    partition: r.partition,
    offset: r.kafka_offset,
    key: r.record_key,
    value: r.record_value,
    code: r.code,
    message: r.message,
  }));
}

export async function removeDeadLetters(
  client: pg.ClientBase,
  table: QualifiedName,
  ids: string[],
): Promise<void> {
  if (ids.length === 0) return;
  await client.query(`DELETE FROM ${qualified(table)} WHERE id = ANY($1::bigint[])`, [ids]);
}

/**
 * The overlay registry: one row per table whose overlay is installed. Apply locks its table's row
 * shared for each overlay-aware write, reset and uninstall lock it exclusively, so they serialise
 * per table. It lives next to shadowdb_positions, in the session's default schema.
 */
export const overlaysDdl = `CREATE TABLE IF NOT EXISTS shadowdb_overlays (
     schema_name text NOT NULL,
     table_name text NOT NULL,
     owned_table text NOT NULL,
     copy_table text NOT NULL,
     installed_at timestamptz NOT NULL DEFAULT now(),
     PRIMARY KEY (schema_name, table_name))`;

/** An empty schema is the session's default, as `qualified` has it. */
const registryKey = "schema_name = coalesce(nullif($1, ''), current_schema()) AND table_name = $2";

/**
 * Locks the table's registry row (SHARE for a write, UPDATE for reset and uninstall, null: only
 * looks). Throws OVERLAY_NOT_INSTALLED when the table has no row, unless `missing` is "ok" (then
 * returns false).
 */
export async function lockOverlay(
  client: pg.ClientBase,
  table: QualifiedName,
  mode: "SHARE" | "UPDATE" | null,
  missing: "throw" | "ok" = "throw",
): Promise<boolean> {
  if (missing === "ok") {
    const { rows } = await client.query<{ present: boolean }>(
      "SELECT to_regclass('shadowdb_overlays') IS NOT NULL AS present",
    );
    if (!rows[0]?.present) return false;
  }
  const lock = mode ? ` FOR ${mode}` : "";
  const { rowCount } = await client.query(`SELECT 1 FROM shadowdb_overlays WHERE ${registryKey}${lock}`, [
    table.schema,
    table.name,
  ]);
  if ((rowCount ?? 0) > 0) return true;
  if (missing === "ok") return false;
  throw new ShadowdbError(
    "OVERLAY_NOT_INSTALLED",
    `${table.schema}.${table.name} has no overlay (no row in shadowdb_overlays)`,
  );
}

/**
 * The overlay-aware write's lock: the table's registry row FOR SHARE, and in the same round trip
 * whether the table has a unique index besides the primary key that is checked per statement
 * (not deferred). Only then can a production row collide with an overlay row on another unique
 * key, and only then does the write need savepoints to keep such a row aside.
 */
export async function lockOverlayForWrite(
  client: pg.ClientBase,
  table: QualifiedName,
): Promise<{ uniques: boolean }> {
  const { rows } = await client.query<{ uniques: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = $3::regclass
                       AND i.indisunique AND NOT i.indisprimary AND i.indimmediate) AS uniques
       FROM shadowdb_overlays WHERE ${registryKey} FOR SHARE`,
    [table.schema, table.name, qualified(table)],
  );
  if (rows[0]) return rows[0];
  throw new ShadowdbError(
    "OVERLAY_NOT_INSTALLED",
    `${table.schema}.${table.name} has no overlay (no row in shadowdb_overlays)`,
  );
}

/** Adds the table's registry row, or keeps it (and its installed_at) when it is there. */
export async function registerOverlay(client: pg.ClientBase, names: OverlayNames): Promise<void> {
  await client.query(
    `INSERT INTO shadowdb_overlays (schema_name, table_name, owned_table, copy_table)
     VALUES (coalesce(nullif($1, ''), current_schema()), $2, $3, $4)
     ON CONFLICT (schema_name, table_name)
     DO UPDATE SET owned_table = EXCLUDED.owned_table, copy_table = EXCLUDED.copy_table`,
    [names.table.schema, names.table.name, names.owned.name, names.copy.name],
  );
}

export async function unregisterOverlay(client: pg.ClientBase, table: QualifiedName): Promise<void> {
  await client.query(`DELETE FROM shadowdb_overlays WHERE ${registryKey}`, [table.schema, table.name]);
}

export async function listOverlays(client: pg.ClientBase): Promise<QualifiedName[]> {
  const { rows: present } = await client.query<{ present: boolean }>(
    "SELECT to_regclass('shadowdb_overlays') IS NOT NULL AS present",
  );
  if (!present[0]?.present) return [];
  const { rows } = await client.query<{ schema_name: string; table_name: string }>(
    "SELECT schema_name, table_name FROM shadowdb_overlays ORDER BY schema_name, table_name",
  );
  return rows.map((r) => ({ schema: r.schema_name, name: r.table_name }));
}

export async function countDeadLetters(
  client: pg.ClientBase,
  table: QualifiedName,
  groupId: string,
): Promise<number> {
  const { rows: present } = await client.query<{ present: boolean }>(
    "SELECT to_regclass($1) IS NOT NULL AS present",
    [qualified(table)],
  );
  if (!present[0]?.present) return 0;
  const { rows } = await client.query<{ n: string }>(
    `SELECT count(*)::text AS n FROM ${qualified(table)} WHERE group_id = $1`,
    [groupId],
  );
  return Number(rows[0]!.n);
}
