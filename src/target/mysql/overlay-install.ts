/**
 * A table's overlay objects on MySQL/MariaDB (docs/design.md §4.1): the ownership table, the production
 * copy, and three row triggers (AFTER INSERT / UPDATE / DELETE) generated with the table's column
 * lists. Their body runs only when `@shadowdb_apply IS NULL`: the apply session sets it, so only
 * other sessions (the shadow service) are tracked. Triggers run with their definer's rights: the
 * shadow service's user needs no privilege on the overlay tables.
 *
 * MySQL has no TRUNCATE trigger: a TRUNCATE by the shadow is not tracked (documented limit), and
 * neither are rows that a foreign key's ON DELETE/UPDATE CASCADE changes (InnoDB fires no trigger
 * for them).
 *
 * "Own the key, and copy OLD only if this write is the first": the ownership row is a plain INSERT
 * whose duplicate-key error (1062 only) a handler turns into "owned already". That is atomic and
 * sees the latest committed ownership whatever the shadow's isolation level; a SELECT first would
 * read a REPEATABLE READ snapshot that may miss an ownership committed while the shadow's UPDATE
 * waited for the row (and then copy a shadow version as production's), and ROW_COUNT() after an
 * INSERT IGNORE is not reliable inside a MariaDB trigger.
 */
import { createHash } from "node:crypto";
import type mysql from "mysql2/promise";
import { ShadowdbError } from "../../errors.ts";
import type { OverlayNames, QualifiedName } from "../dialect.ts";
import { inTransaction } from "../transaction.ts";
import { lockOverlay, overlaysDdl, registerOverlay, unregisterOverlay } from "./bookkeeping.ts";
import { type ColumnDefinition, columnDdl, columnDefinitions, primaryKeyOf } from "./introspect.ts";
import { ident, qualified, schemaParam } from "./sql.ts";

/** Columns of the ownership table besides the key. */
const ownedColumns = ["owned_at", "how"];

const events = [
  { event: "ins", sql: "INSERT" },
  { event: "upd", sql: "UPDATE" },
  { event: "del", sql: "DELETE" },
] as const;

/** The table as the overlay needs it: present, with a primary key that leaves room for ours. */
export async function overlaidTable(
  conn: mysql.Connection,
  table: QualifiedName,
): Promise<{ columns: ColumnDefinition[]; key: string[] }> {
  const name = `${table.schema}.${table.name}`;
  const columns = await columnDefinitions(conn, table);
  if (columns.length === 0) throw new ShadowdbError("TARGET_SCHEMA", `${name} does not exist: no overlay`);
  const key = await primaryKeyOf(conn, table);
  if (key.length === 0)
    throw new ShadowdbError("TARGET_SCHEMA", `${name} has no primary key: the overlay tracks rows by key`);
  const clash = key.find((k) => ownedColumns.includes(k));
  if (clash)
    throw new ShadowdbError(
      "TARGET_SCHEMA",
      `${name}: a key column named ${clash} clashes with the overlay's`,
    );
  return { columns, key };
}

function triggerName(table: QualifiedName, name: string): string {
  return qualified({ schema: table.schema, name });
}

/** While a trigger is replaced, its new body runs under this name (first), so no write goes untracked. */
function standInName(name: string): string {
  return `shadowdb_new_${createHash("sha1").update(name).digest("hex").slice(0, 16)}`;
}

/**
 * The body of one trigger. A first write to a key (UPDATE or DELETE of an OLD key not owned yet)
 * owns it and copies OLD, production's version, aside; a new key (INSERT, or an UPDATE that
 * changes the key) is owned without a copy row (production has none under it). A key owned
 * already changes nothing here.
 */
export function triggerBody(
  names: OverlayNames,
  columns: ColumnDefinition[],
  key: string[],
  event: "ins" | "upd" | "del",
): string {
  const owned = qualified(names.owned);
  const copy = qualified(names.copy);
  const keyList = key.map(ident).join(", ");
  const all = columns.map((c) => ident(c.name));
  const of = (record: string, cols: string[]) => cols.map((c) => `${record}.${c}`).join(", ");
  const own = (record: string, how: string) => `BEGIN
      DECLARE CONTINUE HANDLER FOR 1062 SET first_write = FALSE;
      INSERT INTO ${owned} (${keyList}, how) VALUES (${of(record, key.map(ident))}, '${how}');
    END;`;
  const rest = all.filter((c) => !key.map(ident).includes(c));
  const updates =
    rest.length > 0 ? rest.map((c) => `${c} = OLD.${c}`).join(", ") : `${ident(key[0]!)} = ${ident(key[0]!)}`;
  const copyOld = `IF first_write THEN
      INSERT INTO ${copy} (${all.join(", ")}) VALUES (${of("OLD", all)})
        ON DUPLICATE KEY UPDATE ${updates};
    END IF;`;
  const keyChanged = `NOT (${key.map((k) => `NEW.${ident(k)} <=> OLD.${ident(k)}`).join(" AND ")})`;
  const body =
    event === "ins"
      ? own("NEW", "i")
      : event === "del"
        ? `${own("OLD", "d")}\n    ${copyOld}`
        : `${own("OLD", "u")}\n    ${copyOld}\n    IF ${keyChanged} THEN\n      ${own("NEW", "u")}\n    END IF;`;
  return `BEGIN
  DECLARE first_write BOOLEAN DEFAULT TRUE;
  IF @shadowdb_apply IS NULL THEN
    ${body}
  END IF;
END`;
}

/** Adds the columns `twin` lacks and retypes those whose type differs from the table's. */
async function follow(
  conn: mysql.Connection,
  twin: QualifiedName,
  wanted: ColumnDefinition[],
  key: string[],
) {
  const have = new Map((await columnDefinitions(conn, twin)).map((c) => [c.name, c]));
  const changes: string[] = [];
  for (const c of wanted) {
    const old = have.get(c.name);
    const ddl = columnDdl(c, key.includes(c.name));
    if (!old) changes.push(`ADD COLUMN ${ddl}`);
    else if (old.type !== c.type || old.charset !== c.charset || old.collation !== c.collation)
      changes.push(`MODIFY COLUMN ${ddl}`);
  }
  if (changes.length > 0) await conn.query(`ALTER TABLE ${qualified(twin)} ${changes.join(", ")}`);
  const twinKey = await primaryKeyOf(conn, twin);
  if (twinKey.join("\u0000") !== key.join("\u0000"))
    throw new ShadowdbError(
      "TARGET_SCHEMA",
      `${twin.name} is keyed by (${twinKey.join(", ")}), the table by (${key.join(", ")}): reset and uninstall the overlay, then install it again`,
    );
}

async function ensureTriggers(
  conn: mysql.Connection,
  names: OverlayNames,
  columns: ColumnDefinition[],
  key: string[],
) {
  const table = names.table;
  const wanted = events.flatMap(({ event }) => [names.trigger(event), standInName(names.trigger(event))]);
  const [rows] = await conn.query(
    `SELECT TRIGGER_NAME AS name, EVENT_OBJECT_TABLE AS tbl, ACTION_STATEMENT AS body
       FROM information_schema.TRIGGERS
      WHERE TRIGGER_SCHEMA = ${schemaParam} AND TRIGGER_NAME IN (?)`,
    [table.schema, wanted],
  );
  const present = new Map((rows as { name: string; tbl: string; body: string }[]).map((r) => [r.name, r]));
  for (const { event, sql } of events) {
    const name = names.trigger(event);
    const standIn = standInName(name);
    const body = triggerBody(names, columns, key, event);
    const current = present.get(name);
    if (current && current.tbl !== table.name)
      throw new ShadowdbError(
        "TARGET_SCHEMA",
        `trigger ${name} belongs to ${current.tbl}, not ${table.name}`,
      );
    // CREATE TRIGGER is a compound statement: sent as text (the binary protocol cannot prepare it).
    const create = (n: string, order: string) =>
      conn.query(
        `CREATE TRIGGER ${triggerName(table, n)} AFTER ${sql} ON ${qualified(table)} FOR EACH ROW ${order}${body}`,
      );
    if (!current) {
      await conn.query(`DROP TRIGGER IF EXISTS ${triggerName(table, standIn)}`);
      await create(name, "");
    } else if (current.body !== body) {
      // No moment without a trigger: the new body runs first under a stand-in name, the old one
      // (then a no-op: the new one has owned the key) goes, the new one takes the name back.
      await conn.query(`DROP TRIGGER IF EXISTS ${triggerName(table, standIn)}`);
      await create(standIn, `PRECEDES ${ident(name)} `);
      await conn.query(`DROP TRIGGER ${triggerName(table, name)}`);
      await create(name, `PRECEDES ${ident(standIn)} `);
      await conn.query(`DROP TRIGGER ${triggerName(table, standIn)}`);
    } else if (present.has(standIn)) {
      await conn.query(`DROP TRIGGER IF EXISTS ${triggerName(table, standIn)}`);
    }
  }
}

export async function installOverlay(conn: mysql.Connection, names: OverlayNames): Promise<void> {
  const { columns, key } = await overlaidTable(conn, names.table);
  const keyColumns = key.map((k) => columns.find((c) => c.name === k)!);
  const keyList = key.map(ident).join(", ");
  await conn.query(overlaysDdl);
  await conn.query(
    `CREATE TABLE IF NOT EXISTS ${qualified(names.owned)} (
       ${keyColumns.map((c) => columnDdl(c, true)).join(", ")},
       owned_at timestamp(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
       how char(1) NOT NULL,
       PRIMARY KEY (${keyList})) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
  );
  await conn.query(
    `CREATE TABLE IF NOT EXISTS ${qualified(names.copy)} (
       ${columns.map((c) => columnDdl(c, key.includes(c.name))).join(", ")},
       PRIMARY KEY (${keyList})) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
  );
  await follow(conn, names.owned, keyColumns, key);
  await follow(conn, names.copy, columns, key);
  await ensureTriggers(conn, names, columns, key);
  await registerOverlay(conn, names);
}

/** Triggers first (the shadow's writes stop being tracked), then the registry row, then the tables. */
export async function uninstallOverlay(conn: mysql.Connection, names: OverlayNames): Promise<void> {
  for (const { event } of events) {
    const name = names.trigger(event);
    await conn.query(`DROP TRIGGER IF EXISTS ${triggerName(names.table, name)}`);
    await conn.query(`DROP TRIGGER IF EXISTS ${triggerName(names.table, standInName(name))}`);
  }
  // Waits for the apply transactions that are writing through the overlay.
  await inTransaction(
    (sql) => conn.query(sql),
    "START TRANSACTION",
    async () => {
      if (await lockOverlay(conn, names.table, "update", "ok")) await unregisterOverlay(conn, names.table);
    },
  );
  await conn.query(`DROP TABLE IF EXISTS ${qualified(names.owned)}, ${qualified(names.copy)}`);
}
