/**
 * A table's overlay objects on PostgreSQL (docs/design.md §4.1): the ownership table, the production
 * copy, one plpgsql trigger function generated with the table's column lists, and the triggers
 * that call it: AFTER INSERT / UPDATE / DELETE for each row, and BEFORE TRUNCATE for the
 * statement. The apply session runs with `session_replication_role = replica`, under which
 * ordinary triggers do not fire, so only other sessions (the shadow service) are tracked.
 *
 * The function is SECURITY DEFINER with a fixed search_path: the shadow service's role needs no
 * privilege on the overlay tables, and every name in the body is schema-qualified.
 */
import type pg from "pg";
import { ShadowdbError } from "../../errors.ts";
import type { OverlayNames, QualifiedName, TableShape } from "../dialect.ts";
import { lockOverlay, overlaysDdl, registerOverlay, unregisterOverlay } from "./bookkeeping.ts";
import { describePostgres } from "./introspect.ts";
import { ident, qualified } from "./sql.ts";

/** Columns of the ownership table besides the key. */
const ownedColumns = ["owned_at", "how"];

/** Bumped when the generated function changes shape, so that reinstalling replaces it. */
const functionVersion = "shadowdb overlay function v1";

/** An empty schema means the session's default; the function body needs it spelled out. */
async function resolved(client: pg.ClientBase, names: OverlayNames): Promise<OverlayNames> {
  if (names.table.schema !== "") return names;
  const { rows } = await client.query<{ schema: string }>("SELECT current_schema() AS schema");
  const schema = rows[0]!.schema;
  const at = (n: QualifiedName): QualifiedName => ({ schema, name: n.name });
  return { ...names, table: at(names.table), owned: at(names.owned), copy: at(names.copy) };
}

/** The table as the overlay needs it: present, with a primary key that leaves room for ours. */
async function overlaidShape(client: pg.ClientBase, names: OverlayNames): Promise<TableShape> {
  const shape = await describePostgres(client, names.table);
  const name = `${names.table.schema}.${names.table.name}`;
  if (!shape) throw new ShadowdbError("TARGET_SCHEMA", `${name} does not exist: no overlay to install`);
  if (shape.primaryKey.length === 0)
    throw new ShadowdbError("TARGET_SCHEMA", `${name} has no primary key: the overlay tracks rows by key`);
  const clash = shape.primaryKey.find((k) => ownedColumns.includes(k));
  if (clash)
    throw new ShadowdbError(
      "TARGET_SCHEMA",
      `${name}: a key column named ${clash} clashes with the overlay's`,
    );
  return shape;
}

/** `a.k1 = b.k1 AND …` over the key. */
function keyMatch(shape: TableShape, a: string, b: string): string {
  return shape.primaryKey.map((k) => `${a}.${ident(k)} = ${b}.${ident(k)}`).join(" AND ");
}

/** `ON CONFLICT (key) DO UPDATE SET c = EXCLUDED.c, …` (DO NOTHING when every column is key). */
function upsertClause(shape: TableShape, columns: string[]): string {
  const sets = columns
    .filter((c) => !shape.primaryKey.includes(c))
    .map((c) => `${ident(c)} = EXCLUDED.${ident(c)}`);
  const key = shape.primaryKey.map(ident).join(", ");
  return `ON CONFLICT (${key}) ${sets.length > 0 ? `DO UPDATE SET ${sets.join(", ")}` : "DO NOTHING"}`;
}

/**
 * The trigger function's body. First write to a key (UPDATE/DELETE of an OLD key not owned yet):
 * own it and copy OLD, production's version, aside. A new key (INSERT, or UPDATE that changes the
 * key): own it, without a copy row (production has no row under it). TRUNCATE: copy and own every
 * row not owned yet. A key that is owned already changes nothing here.
 */
export function triggerBody(names: OverlayNames, shape: TableShape): string {
  const table = qualified(names.table);
  const owned = qualified(names.owned);
  const copy = qualified(names.copy);
  const columns = [...shape.columns.keys()];
  const list = columns.map(ident).join(", ");
  const key = shape.primaryKey.map(ident);
  const keyList = key.join(", ");
  const of = (record: string, cols: string[]) => cols.map((c) => `${record}.${c}`).join(", ");
  const own = (record: string, how: string) =>
    `INSERT INTO ${owned} (${keyList}, how) VALUES (${of(record, key)}, '${how}') ON CONFLICT (${keyList}) DO NOTHING;`;
  // Names in the body are columns, never the function's own variables (FOUND, NEW, TG_OP…).
  return `
#variable_conflict use_column
-- ${functionVersion}
BEGIN
  IF TG_OP = 'TRUNCATE' THEN
    INSERT INTO ${copy} (${list})
      SELECT ${columns.map((c) => `t.${ident(c)}`).join(", ")} FROM ${table} t
       WHERE NOT EXISTS (SELECT 1 FROM ${owned} o WHERE ${keyMatch(shape, "o", "t")})
      ${upsertClause(shape, columns)};
    INSERT INTO ${owned} (${keyList}, how) SELECT ${key.map((k) => `t.${k}`).join(", ")}, 't' FROM ${table} t
      ON CONFLICT (${keyList}) DO NOTHING;
    RETURN NULL;
  END IF;
  IF TG_OP = 'INSERT' THEN
    ${own("NEW", "i")}
    RETURN NULL;
  END IF;
  IF TG_OP = 'UPDATE' THEN
    ${own("OLD", "u")}
  ELSE
    ${own("OLD", "d")}
  END IF;
  IF FOUND THEN
    INSERT INTO ${copy} (${list}) VALUES (${of("OLD", columns.map(ident))})
      ${upsertClause(shape, columns)};
  END IF;
  IF TG_OP = 'UPDATE' AND ROW(${of("NEW", key)}) IS DISTINCT FROM ROW(${of("OLD", key)}) THEN
    ${own("NEW", "u")}
  END IF;
  RETURN NULL;
END
`;
}

const quoteTag = "$shadowdb_overlay$";

async function ensureFunction(client: pg.ClientBase, names: OverlayNames, shape: TableShape) {
  const fn = `${ident(names.table.schema)}.${ident(names.trigger("fn"))}`;
  const body = triggerBody(names, shape);
  if (body.includes(quoteTag)) throw new ShadowdbError("TARGET_SCHEMA", `${fn}: a name contains ${quoteTag}`);
  const { rows } = await client.query<{ src: string }>(
    `SELECT p.prosrc AS src FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
      WHERE n.nspname = $1 AND p.proname = $2 AND p.pronargs = 0`,
    [names.table.schema, names.trigger("fn")],
  );
  if (rows[0]?.src === body) return;
  await client.query(
    `CREATE OR REPLACE FUNCTION ${fn}() RETURNS trigger LANGUAGE plpgsql
       SECURITY DEFINER SET search_path = pg_catalog, pg_temp
       AS ${quoteTag}${body}${quoteTag}`,
  );
}

const triggers = [
  { event: "ins", when: "AFTER INSERT", each: "ROW" },
  { event: "upd", when: "AFTER UPDATE", each: "ROW" },
  { event: "del", when: "AFTER DELETE", each: "ROW" },
  { event: "trunc", when: "BEFORE TRUNCATE", each: "STATEMENT" },
] as const;

async function ensureTriggers(client: pg.ClientBase, names: OverlayNames) {
  const table = qualified(names.table);
  const fn = `${ident(names.table.schema)}.${ident(names.trigger("fn"))}`;
  const { rows } = await client.query<{ tgname: string }>(
    `SELECT tgname FROM pg_trigger WHERE tgrelid = $1::regclass AND tgfoid = $2::regproc AND NOT tgisinternal`,
    [table, fn],
  );
  const present = new Set(rows.map((r) => r.tgname));
  for (const t of triggers) {
    const name = names.trigger(t.event);
    if (present.has(name)) continue;
    await client.query(`DROP TRIGGER IF EXISTS ${ident(name)} ON ${table}`);
    await client.query(
      `CREATE TRIGGER ${ident(name)} ${t.when} ON ${table} FOR EACH ${t.each} EXECUTE FUNCTION ${fn}()`,
    );
  }
}

/**
 * The copy gets every column of the table it lacks (a new column, or the first install), and the
 * table's type where that changed (a widening): it must hold whatever production's rows hold.
 */
async function ensureCopy(client: pg.ClientBase, names: OverlayNames, shape: TableShape) {
  const copy = await describePostgres(client, names.copy);
  const missing = [...shape.columns.values()].filter((c) => !copy?.columns.has(c.name));
  const retyped = [...shape.columns.values()].filter((c) => {
    const old = copy?.columns.get(c.name);
    return old !== undefined && old.sqlType !== c.sqlType;
  });
  if (retyped.length > 0)
    await client.query(
      `ALTER TABLE ${qualified(names.copy)} ${retyped.map((c) => `ALTER COLUMN ${ident(c.name)} TYPE ${c.sqlType}`).join(", ")}`,
    );
  if (copy && missing.length === 0) return;
  const defs = missing.map((c) => `${ident(c.name)} ${c.sqlType}`);
  if (!copy) {
    defs.push(`PRIMARY KEY (${shape.primaryKey.map(ident).join(", ")})`);
    await client.query(`CREATE TABLE ${qualified(names.copy)} (${defs.join(", ")})`);
  } else {
    await client.query(
      `ALTER TABLE ${qualified(names.copy)} ${defs.map((d) => `ADD COLUMN ${d}`).join(", ")}`,
    );
  }
}

/**
 * How a key came to be owned: the shadow's insert, update, delete or truncate (the trigger), or
 * 'c', a production row hidden by a unique conflict with an overlay row (apply). The constraint's
 * name says what it allows, so that an ownership table of an older install is recognised.
 */
const howCheck = { name: "shadowdb_how_iudtc", check: "how IN ('i', 'u', 'd', 't', 'c')" };

/** An ownership table from before 'c' gets the current check in place of its old ones. */
async function ensureHowCheck(client: pg.ClientBase, names: OverlayNames): Promise<void> {
  const { rows } = await client.query<{ conname: string }>(
    "SELECT conname FROM pg_constraint WHERE conrelid = $1::regclass AND contype = 'c'",
    [qualified(names.owned)],
  );
  if (rows.some((r) => r.conname === howCheck.name)) return;
  // Every check of the ownership table is ours: the old one on `how` goes.
  const drops = rows.map((r) => `DROP CONSTRAINT ${ident(r.conname)}, `).join("");
  await client.query(
    `ALTER TABLE ${qualified(names.owned)} ${drops}ADD CONSTRAINT ${ident(howCheck.name)} CHECK (${howCheck.check})`,
  );
}

/** Idempotent: creates what is missing, adds new columns to the copy, regenerates the function. */
export async function installPostgres(client: pg.ClientBase, given: OverlayNames): Promise<void> {
  const names = await resolved(client, given);
  const shape = await overlaidShape(client, names);
  await client.query(overlaysDdl);
  // The registry row first (the upsert locks it): it waits for running apply transactions of the
  // table, which hold it shared and the table's row locks, before the DDL below locks the table.
  await registerOverlay(client, names);
  const keyDefs = shape.primaryKey.map((k) => `${ident(k)} ${shape.columns.get(k)!.sqlType} NOT NULL`);
  await client.query(
    `CREATE TABLE IF NOT EXISTS ${qualified(names.owned)} (
       ${keyDefs.join(", ")},
       owned_at timestamptz NOT NULL DEFAULT now(),
       how char(1) NOT NULL CONSTRAINT ${ident(howCheck.name)} CHECK (${howCheck.check}),
       PRIMARY KEY (${shape.primaryKey.map(ident).join(", ")}))`,
  );
  await ensureHowCheck(client, names);
  await ensureCopy(client, names, shape);
  await ensureFunction(client, names, shape);
  await ensureTriggers(client, names);
}

/** Drops triggers, function and overlay tables, and the registry row. The table stays as it is. */
export async function uninstallPostgres(client: pg.ClientBase, given: OverlayNames): Promise<void> {
  const names = await resolved(client, given);
  const table = qualified(names.table);
  await lockOverlay(client, names.table, "UPDATE", "ok");
  for (const t of triggers)
    await client.query(`DROP TRIGGER IF EXISTS ${ident(names.trigger(t.event))} ON ${table}`);
  await client.query(`DROP FUNCTION IF EXISTS ${ident(names.table.schema)}.${ident(names.trigger("fn"))}()`);
  await client.query(`DROP TABLE IF EXISTS ${qualified(names.owned)}, ${qualified(names.copy)}`);
  const { rows } = await client.query<{ present: boolean }>(
    "SELECT to_regclass('shadowdb_overlays') IS NOT NULL AS present",
  );
  if (rows[0]?.present) await unregisterOverlay(client, names.table);
}
