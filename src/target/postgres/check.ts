/**
 * What `shadowdb check` asks of a PostgreSQL target user, tried for real rather than read from
 * the catalogue (grants reach a role through memberships, defaults and superuser in ways a query
 * easily gets wrong): mark the transaction as a replica as apply does, create a table, a plpgsql
 * SECURITY DEFINER function and a trigger as the overlay does. All in one transaction that is
 * rolled back (PostgreSQL's DDL is transactional), each step in a savepoint so that one refusal
 * does not hide the others.
 */
import { randomBytes } from "node:crypto";
import type pg from "pg";
import type { PrivilegeCheck } from "../dialect.ts";
import { ident } from "./sql.ts";

interface Session {
  user: string;
  schema: string | null;
  version: number;
}

const INSUFFICIENT_PRIVILEGE = "42501";

function refusal(error: unknown): { code: string; text: string } {
  const { code, message } = error as { code?: unknown; message?: unknown };
  // No SQLSTATE: the connection, not the privilege, failed; the caller reports it as unreachable.
  if (typeof code !== "string") throw error;
  return { code, text: `${code}: ${String(message)}` };
}

/** Runs `sql` in a savepoint: a refusal rolls back only this step. */
async function attempt(
  client: pg.ClientBase,
  privilege: string,
  sql: string,
  fix: (code: string) => string,
): Promise<PrivilegeCheck> {
  await client.query("SAVEPOINT shadowdb_check");
  try {
    await client.query(sql);
    await client.query("RELEASE SAVEPOINT shadowdb_check");
    return { privilege, ok: true };
  } catch (error) {
    const { code, text } = refusal(error);
    await client.query("ROLLBACK TO SAVEPOINT shadowdb_check");
    return { privilege, ok: false, error: text, fix: fix(code) };
  }
}

function replicaFix(session: Session): string {
  const role = ident(session.user);
  return session.version >= 150000
    ? `GRANT SET ON PARAMETER session_replication_role TO ${role} (as a superuser), or make ${role} a superuser`
    : `PostgreSQL before 15 lets only superusers set it: ALTER ROLE ${role} SUPERUSER, or upgrade to 15+ and GRANT SET ON PARAMETER session_replication_role`;
}

function schemaFix(session: Session, code: string, what: string): string {
  if (code === INSUFFICIENT_PRIVILEGE && session.schema !== null)
    return `GRANT CREATE ON SCHEMA ${ident(session.schema)} TO ${ident(session.user)}`;
  return `${what} must succeed in the default schema of ${ident(session.user)}; see the error`;
}

export async function checkPrivilegesPostgres(client: pg.ClientBase): Promise<PrivilegeCheck[]> {
  const { rows } = await client.query<Session>(
    `SELECT current_user AS "user", current_schema() AS "schema",
            current_setting('server_version_num')::int AS "version"`,
  );
  const session = rows[0]!;
  const name = `shadowdb_check_${randomBytes(4).toString("hex")}`;
  const results: PrivilegeCheck[] = [];
  await client.query("BEGIN");
  try {
    results.push(
      await attempt(
        client,
        "SET LOCAL session_replication_role = replica (apply skips triggers and FK checks)",
        "SET LOCAL session_replication_role = replica",
        () => replicaFix(session),
      ),
    );
    if (session.schema === null) {
      results.push({
        privilege: "CREATE TABLE",
        ok: false,
        error: "no schema of the search_path exists",
        fix: `create the schema, or set the search_path of ${ident(session.user)} to one where shadowdb's tables go`,
      });
      return results;
    }
    const table = `${ident(session.schema)}.${ident(name)}`;
    const fn = `${ident(session.schema)}.${ident(`${name}_fn`)}`;
    const created = await attempt(
      client,
      `CREATE TABLE in schema ${session.schema} (positions, overlay tables, missing target tables)`,
      `CREATE TABLE ${table} (id integer PRIMARY KEY)`,
      (code) => schemaFix(session, code, "CREATE TABLE"),
    );
    const defined = await attempt(
      client,
      `CREATE FUNCTION ... LANGUAGE plpgsql SECURITY DEFINER in schema ${session.schema} (the overlay's trigger function)`,
      `CREATE FUNCTION ${fn}() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
         SET search_path = pg_catalog, pg_temp AS $$BEGIN RETURN NULL; END$$`,
      (code) => schemaFix(session, code, "CREATE FUNCTION"),
    );
    results.push(created, defined);
    if (created.ok && defined.ok) {
      results.push(
        await attempt(
          client,
          "CREATE TRIGGER (the overlay's row and TRUNCATE triggers)",
          `CREATE TRIGGER ${ident(name)} AFTER INSERT ON ${table} FOR EACH ROW EXECUTE FUNCTION ${fn}()`,
          () =>
            `the user needs the TRIGGER privilege on the mapped tables (GRANT TRIGGER ON ALL TABLES IN SCHEMA ${ident(session.schema!)} TO ${ident(session.user)}) or to own them`,
        ),
      );
    }
    return results;
  } finally {
    await client.query("ROLLBACK");
  }
}
