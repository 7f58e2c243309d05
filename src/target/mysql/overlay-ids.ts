/**
 * The shadow's own ids kept clear of production's (docs/design.md §4.6). On InnoDB an
 * explicit id above the AUTO_INCREMENT counter raises it, so production's ids applied by CDC push
 * the shadow's next id right behind production's highest: the shadow's next insert would take the
 * id production's next insert brings. The check moves the counter to production's highest id +
 * headroom whenever it is within headroom / 2 of it.
 *
 * Production's highest id: over the table's rows whose key is not owned (read backwards along the
 * column's index, skipping the shadow's own rows at the top) and over the copy (production's
 * versions of owned rows, hidden rows included). With no production row at all it counts as 0:
 * production's first ids will be 1, 2, …
 *
 * The next id: information_schema.TABLES.AUTO_INCREMENT, live on MariaDB; MySQL 8 caches it
 * unless the session sets information_schema_stats_expiry = 0 (MariaDB has no such variable).
 * The move is `ALTER TABLE … AUTO_INCREMENT = n, ALGORITHM=INPLACE, LOCK=NONE`: no table copy, no
 * lock on rows, but a brief exclusive metadata lock, which waits for the open transactions on the
 * table (and holds up statements that arrive meanwhile). The session's lock_wait_timeout is
 * therefore short: a check that cannot get the lock fails (1205, retriable) and is run again
 * later, rather than stalling apply and the shadow behind a long shadow transaction. A shadow
 * insert between the read and the ALTER cannot make the ALTER hand out a used id: InnoDB never sets
 * the counter at or below the highest id in the table.
 */
import type mysql from "mysql2/promise";
import { ShadowdbError } from "../../errors.ts";
import { assertHeadroom, headroomMove, headroomReport } from "../../overlay/headroom.ts";
import type { IdHeadroom, OverlayNames, QualifiedName } from "../dialect.ts";
import { autoIncrementColumn, columnDefinitions } from "./introspect.ts";
import { overlaidTable } from "./overlay-install.ts";
import { ident, matches, qualified, schemaParam } from "./sql.ts";

/** Seconds the ALTER may wait for the table's metadata lock. */
const METADATA_LOCK_WAIT = 2;
const UNKNOWN_SYSTEM_VARIABLE = 1193;

/** The largest value of an AUTO_INCREMENT column's type (FLOAT / DOUBLE: the last exact integer). */
export function typeMaximum(dataType: string, unsigned: boolean): bigint {
  const bits: Record<string, number> = { tinyint: 8, smallint: 16, mediumint: 24, int: 32, integer: 32 };
  if (dataType === "float") return 2n ** 24n;
  if (dataType === "double" || dataType === "real") return 2n ** 53n;
  const width = BigInt(bits[dataType] ?? 64);
  return unsigned ? 2n ** width - 1n : 2n ** (width - 1n) - 1n;
}

async function nextId(conn: mysql.Connection, table: QualifiedName): Promise<bigint> {
  const [rows] = await conn.execute(
    `SELECT CAST(AUTO_INCREMENT AS CHAR) AS next FROM information_schema.TABLES
      WHERE TABLE_SCHEMA = ${schemaParam} AND TABLE_NAME = ?`,
    [table.schema, table.name],
  );
  const next = (rows as { next: string | null }[])[0]?.next;
  return BigInt(next ?? "1");
}

async function productionMax(
  conn: mysql.Connection,
  names: OverlayNames,
  column: string,
  key: string[],
): Promise<bigint | null> {
  const id = ident(column);
  const [rows] = await conn.query(
    `SELECT CAST(MAX(x.id) AS CHAR) AS max FROM (
       (SELECT t.${id} AS id FROM ${qualified(names.table)} t
         WHERE NOT EXISTS (SELECT 1 FROM ${qualified(names.owned)} o WHERE ${matches(key, "o", "t")})
         ORDER BY t.${id} DESC LIMIT 1)
       UNION ALL
       (SELECT MAX(c.${id}) FROM ${qualified(names.copy)} c)) x`,
  );
  const max = (rows as { max: string | null }[])[0]?.max ?? null;
  return max === null ? null : BigInt(max);
}

export async function ensureIdHeadroom(
  conn: mysql.Connection,
  names: OverlayNames,
  headroom: bigint,
): Promise<IdHeadroom[]> {
  assertHeadroom(headroom);
  const { key } = await overlaidTable(conn, names.table);
  const column = await autoIncrementColumn(conn, names.table);
  if (!column) return [];
  if ((await columnDefinitions(conn, names.copy)).length === 0)
    throw new ShadowdbError(
      "OVERLAY_NOT_INSTALLED",
      `${names.table.schema}.${names.table.name} has no overlay`,
    );
  try {
    await conn.query("SET SESSION information_schema_stats_expiry = 0");
  } catch (error) {
    if ((error as { errno?: unknown }).errno !== UNKNOWN_SYSTEM_VARIABLE) throw error;
  }
  const max = await productionMax(conn, names, column.name, key);
  const base = max ?? 0n;
  let next = await nextId(conn, names.table);
  let moved = false;
  const to = headroomMove(base, next, headroom, typeMaximum(column.dataType, column.unsigned));
  if (to !== undefined) {
    await conn.query(`SET SESSION lock_wait_timeout = ${METADATA_LOCK_WAIT}`);
    await conn.query(
      `ALTER TABLE ${qualified(names.table)} AUTO_INCREMENT = ${to}, ALGORITHM=INPLACE, LOCK=NONE`,
    );
    next = await nextId(conn, names.table);
    moved = true;
  }
  return [headroomReport(column.name, max, base, next, moved)];
}
