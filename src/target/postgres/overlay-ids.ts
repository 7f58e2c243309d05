/**
 * ID headroom on PostgreSQL (docs/design.md §4.6). CDC inserts carry production's ids
 * and never call nextval, so the shadow's sequences stay where they were while production's ids
 * climb: the shadow's next insert through the default would take an id production already has or
 * will send. For every sequence a column of the table takes its values from (serial, identity, or
 * any default calling nextval), this moves the sequence to production's highest id + headroom once
 * it is within headroom / 2 of it.
 *
 * Production's highest id is the maximum over the table's rows whose key is not owned and over the
 * copy: the shadow's own rows (owned keys) sit above and must not count. The table part walks the
 * column's index backwards, when there is one, skipping the shadow's rows at the top.
 *
 * Runs on the apply session outside any transaction: reads do not block apply, and setval is not
 * transactional anyway. The move only ever goes up (the statement re-reads the sequence), so a
 * shadow insert racing with it can at worst take an id just below the new start.
 */
import type pg from "pg";
import { ShadowdbError } from "../../errors.ts";
import { assertHeadroom, headroomMove, headroomReport } from "../../overlay/headroom.ts";
import type { IdHeadroom, OverlayNames } from "../dialect.ts";
import { lockOverlay } from "./bookkeeping.ts";
import { describePostgres } from "./introspect.ts";
import { ident, qualified } from "./sql.ts";

/** The largest value each integer type holds; other types are bounded by their sequence only. */
const typeMax: Record<string, bigint> = {
  smallint: 32767n,
  integer: 2147483647n,
  bigint: 9223372036854775807n,
};

interface SequencedColumn {
  column: string;
  /** The sequence, as regclass renders it: quoted and qualified as the search_path needs. */
  sequence: string;
  type: string;
  min: string;
  max: string;
  increment: string;
}

/**
 * Columns fed by a sequence: the sequence is owned by the column (serial: dependency 'a'; identity:
 * 'i'), or the column's default depends on it (nextval('…') of a sequence the table does not own).
 */
const sequencedColumns = `
  SELECT a.attname AS "column", s.oid::regclass::text AS sequence, a.atttypid::regtype::text AS type,
         q.seqmin::text AS min, q.seqmax::text AS max, q.seqincrement::text AS increment
    FROM pg_attribute a
    JOIN LATERAL (
      SELECT d.objid AS seq FROM pg_depend d
       WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass
         AND d.refobjid = a.attrelid AND d.refobjsubid = a.attnum AND d.deptype IN ('a', 'i')
      UNION
      SELECT d.refobjid FROM pg_attrdef ad
        JOIN pg_depend d ON d.classid = 'pg_attrdef'::regclass AND d.objid = ad.oid
                        AND d.refclassid = 'pg_class'::regclass
       WHERE ad.adrelid = a.attrelid AND ad.adnum = a.attnum
    ) dep ON true
    JOIN pg_class s ON s.oid = dep.seq AND s.relkind = 'S'
    JOIN pg_sequence q ON q.seqrelid = s.oid
   WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped
   ORDER BY a.attnum, s.oid`;

/** The value the sequence's next nextval returns (read from the sequence relation itself). */
function nextValue(increment: bigint): string {
  return `CASE WHEN is_called THEN last_value::numeric + ${increment} ELSE last_value END`;
}

/** Production's highest value of `column` (rounded up), or null when production has none. */
async function productionMax(
  client: pg.ClientBase,
  names: OverlayNames,
  column: string,
  inCopy: boolean,
  key: string[],
): Promise<bigint | null> {
  const c = ident(column);
  const match = key.map((k) => `o.${ident(k)} = t.${ident(k)}`).join(" AND ");
  // ORDER BY … DESC LIMIT 1 rather than max(): with an index on the column the scan starts at the
  // top and stops at the first row whose key is not owned.
  const parts = [
    `(SELECT t.${c} AS m FROM ${qualified(names.table)} t
       WHERE t.${c} IS NOT NULL AND NOT EXISTS (SELECT 1 FROM ${qualified(names.owned)} o WHERE ${match})
       ORDER BY t.${c} DESC LIMIT 1)`,
  ];
  if (inCopy) parts.push(`(SELECT max(${c}) FROM ${qualified(names.copy)})`);
  const { rows } = await client.query<{ max: string | null }>(
    `SELECT ceil(max(m)::numeric)::text AS max FROM (${parts.join(" UNION ALL ")}) x`,
  );
  const max = rows[0]?.max;
  return max == null ? null : BigInt(max);
}

export async function ensureIdHeadroomPostgres(
  client: pg.ClientBase,
  names: OverlayNames,
  headroom: bigint,
): Promise<IdHeadroom[]> {
  assertHeadroom(headroom);
  await lockOverlay(client, names.table, null);
  const shape = await describePostgres(client, names.table);
  const copyShape = await describePostgres(client, names.copy);
  if (!shape || !copyShape)
    throw new ShadowdbError("OVERLAY_NOT_INSTALLED", `${names.table.name} or its copy is missing`);
  const { rows: columns } = await client.query<SequencedColumn>(sequencedColumns, [qualified(names.table)]);
  const out: IdHeadroom[] = [];
  for (const col of columns) {
    const increment = BigInt(col.increment);
    // A descending sequence has no "above production" to keep clear of.
    if (increment <= 0n) continue;
    const max = await productionMax(client, names, col.column, copyShape.columns.has(col.column), [
      ...shape.primaryKey,
    ]);
    // Without production rows, production's own sequence would start at the minimum.
    const base = max ?? BigInt(col.min) - 1n;
    // A bigint sequence may feed an integer column: the column's type bounds it first.
    const sequenceMax = BigInt(col.max);
    const columnMax = typeMax[col.type];
    const cap = columnMax !== undefined && columnMax < sequenceMax ? columnMax : sequenceMax;
    const readNext = async () => {
      const { rows } = await client.query<{ next: string }>(
        `SELECT (${nextValue(increment)})::text AS next FROM ${col.sequence}`,
      );
      return BigInt(rows[0]!.next);
    };
    let next = await readNext();
    let moved = false;
    const target = headroomMove(base, next, headroom, cap);
    if (target !== undefined) {
      // Only upwards: a shadow insert since the read above may have moved it already.
      const { rowCount } = await client.query(
        `SELECT setval($1::regclass, $2::bigint, false) FROM ${col.sequence}
          WHERE (${nextValue(increment)}) < $2::bigint`,
        [col.sequence, target.toString()],
      );
      moved = (rowCount ?? 0) > 0;
      next = await readNext();
    }
    out.push(headroomReport(col.column, max, base, next, moved));
  }
  return out;
}
