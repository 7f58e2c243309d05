/**
 * Hidden by conflict (docs/design.md §4.5): a production row whose
 * key is not owned, and whose write into the table failed on a duplicate that is not its primary
 * key, because a row of an OWNED key (the shadow's) holds the same values on another unique index.
 * It is not dropped nor dead-lettered: it goes to the copy, its key is owned with how 'c', and if
 * the table had a row under its key (production's older version, locked by apply since step 2) that
 * row goes, as for any owned key whose shadow version is "no row". Reset brings it back.
 *
 * Which index failed is not read from the error's text. The candidate row is written into the
 * copy first (for a key the table has: the table's row, then the write's columns over it, which is
 * exactly the row the failed statement wanted), inside a savepoint; then one statement compares it,
 * index by index from the catalogue (information_schema.STATISTICS: every unique index but the
 * primary key, prefix lengths respected), with the table's other rows, column to column (the copy
 * has the table's types and collations, so values compare as the index compares them). It hides
 * only when the rows it collides with are all of owned keys (at least one); a collision with a
 * row production has (not owned) is production's own inconsistency: the savepoint is rolled back
 * and the original error thrown, to go record by record and to the dead letters as without the
 * overlay. The row the duplicate was found in is locked by the failed statement (InnoDB locks the
 * duplicate index record), so it cannot change before the comparison reads it; the comparison is a
 * new statement, so at READ COMMITTED it sees the ownership committed with it.
 *
 * Not recognised (the error is thrown): a functional key part (MySQL 8), a unique index on a
 * column the copy lacks, a generated column whose value the write changes indirectly, and a
 * column the write leaves out of an insert (the table would take its default; the copy holds NULL).
 */
import type mysql from "mysql2/promise";
import type { OverlayNames, TableWrite } from "../dialect.ts";
import { deleteKeys, type Row, rowParams, upsertRows } from "./apply.ts";
import { columnDefinitions, type IndexPart, uniqueIndexes } from "./introspect.ts";
import { ident, matches, qualified } from "./sql.ts";
import type { MysqlParam } from "./types.ts";

const DUPLICATE_KEY = new Set([1062, 1586]);

export function isDuplicateKey(error: unknown): boolean {
  return DUPLICATE_KEY.has((error as { errno?: number }).errno ?? 0);
}

const SAVEPOINT = "shadowdb_hide";

/** Per write: the catalogue read once, on the first conflict, and the rows it hid. */
export class Hider {
  hidden = 0;
  /** Rows whose key a shadow insert owned while they were being hidden: lost inserts, in the copy. */
  lost = 0;
  private catalogue: Promise<{ columns: string[]; indexes: IndexPart[][] }> | undefined;

  constructor(
    private readonly conn: mysql.Connection,
    private readonly write: TableWrite,
    private readonly names: OverlayNames,
  ) {}

  /** The copy's columns the table also has, and the unique indexes a comparison can check. */
  private read(): Promise<{ columns: string[]; indexes: IndexPart[][] }> {
    this.catalogue ??= (async () => {
      const table = new Set((await columnDefinitions(this.conn, this.names.table)).map((c) => c.name));
      const columns = (await columnDefinitions(this.conn, this.names.copy))
        .map((c) => c.name)
        .filter((c) => table.has(c));
      const usable = new Set(columns);
      const indexes = [...(await uniqueIndexes(this.conn, this.names.table)).values()].filter((parts) =>
        parts.every((p) => p.column !== null && usable.has(p.column)),
      );
      return { columns, indexes };
    })();
    return this.catalogue;
  }

  /**
   * `row`'s write into the table failed on a duplicate that is not its key (which is not owned;
   * `existing`: the table has a row under it, locked). Hides it if an overlay row is what it
   * collides with, and says how it went; false: not an overlay conflict, nothing changed.
   */
  async hide(row: Row, existing: boolean): Promise<"hidden" | "lost" | false> {
    const { conn, write, names } = this;
    const { columns, indexes } = await this.read();
    if (indexes.length === 0) return false;
    const key = write.table.primaryKey;
    const keyParams = rowParams(write, [row], key);
    const isKey = (alias: string) =>
      `(${key.map((k) => `${alias}.${ident(k)}`).join(", ")}) = (${key.map(() => "?").join(", ")})`;
    await conn.query(`SAVEPOINT ${SAVEPOINT}`);
    try {
      if (existing) {
        const list = columns.map(ident);
        await conn.execute(
          `INSERT INTO ${qualified(names.copy)} (${list.join(", ")})
           SELECT ${list.map((c) => `t.${c}`).join(", ")} FROM ${qualified(write.table.name)} t WHERE ${isKey("t")}
           ON DUPLICATE KEY UPDATE ${list.map((c) => `${c} = VALUES(${c})`).join(", ")}`,
          keyParams,
        );
      }
      await upsertRows(conn, write, names.copy, [row]);
      if (!(await this.collidesWithOverlayOnly(indexes, isKey("c"), keyParams))) {
        await conn.query(`ROLLBACK TO SAVEPOINT ${SAVEPOINT}`);
        return false;
      }
      if (existing) await deleteKeys(conn, write, write.table.name, [row]);
      try {
        await conn.execute(
          `INSERT INTO ${qualified(names.owned)} (${key.map(ident).join(", ")}, how) VALUES (${key.map(() => "?").join(", ")}, 'c')`,
          keyParams,
        );
      } catch (error) {
        // Absent key: a shadow insert took it since the failed statement (its row is the shadow's,
        // its ownership 'i'); production's row stays in the copy, as a lost insert's does.
        if (existing || !isDuplicateKey(error)) throw error;
        this.lost++;
        return "lost";
      }
      this.hidden++;
      return "hidden";
    } catch (error) {
      await conn.query(`ROLLBACK TO SAVEPOINT ${SAVEPOINT}`).catch(() => undefined);
      throw error;
    } finally {
      await conn.query(`RELEASE SAVEPOINT ${SAVEPOINT}`).catch(() => undefined);
    }
  }

  /**
   * Whether the copy's row of the key collides on some unique index with at least one table row
   * of another key, and every such row is of an owned key.
   */
  private async collidesWithOverlayOnly(
    indexes: IndexPart[][],
    copyRow: string,
    keyParams: MysqlParam[],
  ): Promise<boolean> {
    const { conn, write, names } = this;
    const key = write.table.primaryKey;
    const part = (p: IndexPart) => {
      const column = ident(p.column!);
      return p.prefix === null
        ? `t.${column} = c.${column}`
        : `LEFT(t.${column}, ${p.prefix}) = LEFT(c.${column}, ${p.prefix})`;
    };
    const branches = indexes.map(
      (parts) =>
        `SELECT ${key.map((k) => `t.${ident(k)}`).join(", ")}
           FROM ${qualified(names.copy)} c JOIN ${qualified(write.table.name)} t ON ${parts.map(part).join(" AND ")}
          WHERE ${copyRow} AND NOT (${matches(key, "t", "c")})`,
    );
    const [rows] = await conn.execute(
      `SELECT COUNT(o.${ident(key[0]!)}) AS owned, COUNT(*) AS rowCount
         FROM (${branches.join(" UNION ")}) x
         LEFT JOIN ${qualified(names.owned)} o ON ${matches(key, "o", "x")}`,
      indexes.flatMap(() => keyParams),
    );
    const found = (rows as { owned: number | string; rowCount: number | string }[])[0]!;
    return Number(found.owned) > 0 && Number(found.owned) === Number(found.rowCount);
  }
}
