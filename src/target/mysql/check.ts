/**
 * What `shadowdb check` asks of a MySQL/MariaDB target user, tried for real on a session of its
 * own: the apply session's settings, then a table and a trigger in the URL's database as the
 * overlay creates them, and dropping both again. MySQL's DDL commits as it goes, so nothing can
 * be rolled back: the objects have names of their own (shadowdb_check_<random>) and are dropped
 * in `finally`; a failed drop is reported with the name of what stayed behind.
 */
import { randomBytes } from "node:crypto";
import type mysql from "mysql2/promise";
import type { PrivilegeCheck } from "../dialect.ts";
import { ident } from "./sql.ts";

/** ER_BINLOG_CREATE_ROUTINE_NEED_SUPER: binary logging is on and the definer lacks SUPER. */
const BINLOG_NEEDS_SUPER = 1419;
/** Access denied for the database, a table command, or a privilege like SUPER. */
const DENIED = new Set([1044, 1142, 1227]);

interface Session {
  user: string;
  database: string | null;
}

function refusal(error: unknown): { errno: number; text: string } {
  const { errno, code, sqlMessage } = error as { errno?: unknown; code?: unknown; sqlMessage?: unknown };
  // No server errno: the connection, not the privilege, failed; the caller reports it as unreachable.
  if (typeof errno !== "number" || typeof sqlMessage !== "string") throw error;
  return { errno, text: `${errno} ${String(code)}: ${sqlMessage}` };
}

async function attempt(
  conn: mysql.Connection,
  privilege: string,
  sql: string,
  fix: (errno: number) => string,
): Promise<PrivilegeCheck> {
  try {
    await conn.query(sql);
    return { privilege, ok: true };
  } catch (error) {
    const { errno, text } = refusal(error);
    return { privilege, ok: false, error: text, fix: fix(errno) };
  }
}

/** 'user'@'host' as GRANT wants it, from CURRENT_USER()'s user@host. */
function account(user: string): string {
  const at = user.lastIndexOf("@");
  const quote = (s: string) => `'${s.replaceAll("'", "''")}'`;
  return at < 0 ? quote(user) : `${quote(user.slice(0, at))}@${quote(user.slice(at + 1))}`;
}

function grantFix(session: Session, privileges: string): (errno: number) => string {
  return (errno) =>
    DENIED.has(errno)
      ? `GRANT ${privileges} ON ${ident(session.database!)}.* TO ${account(session.user)}`
      : "see the error";
}

function triggerFix(session: Session): (errno: number) => string {
  return (errno) =>
    errno === BINLOG_NEEDS_SUPER
      ? `binary logging is on and ${account(session.user)} lacks SUPER, which MySQL then requires of a trigger's definer: SET GLOBAL log_bin_trust_function_creators = 1 (and in the server's config file, to last), or grant SUPER`
      : grantFix(session, "TRIGGER")(errno);
}

const sessionSettings: [string, string][] = [
  ["SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED", "apply reads committed rows only"],
  ["SET SESSION foreign_key_checks = 0", "changes of different tables arrive out of order"],
  ["SET @shadowdb_apply = 1", "the overlay's triggers skip the apply session"],
];

export async function checkPrivilegesMysql(conn: mysql.Connection): Promise<PrivilegeCheck[]> {
  const results: PrivilegeCheck[] = [];
  for (const [sql, why] of sessionSettings) {
    results.push(await attempt(conn, `${sql} (${why})`, sql, () => "see the error"));
  }
  const [rows] = await conn.query("SELECT CURRENT_USER() AS user, DATABASE() AS `database`");
  const session = (rows as Session[])[0]!;
  if (session.database === null) {
    results.push({
      privilege: "CREATE TABLE",
      ok: false,
      error: "the target URL names no database",
      fix: "end target.url with the database shadowdb writes, e.g. mysql://user@host:3306/shadow",
    });
    return results;
  }
  const name = `shadowdb_check_${randomBytes(4).toString("hex")}`;
  const table = `${ident(session.database)}.${ident(name)}`;
  const trigger = table;
  const created = await attempt(
    conn,
    `CREATE TABLE in database ${session.database} (positions, overlay tables, missing target tables)`,
    `CREATE TABLE ${table} (id int NOT NULL PRIMARY KEY) ENGINE=InnoDB`,
    grantFix(session, "CREATE"),
  );
  results.push(created);
  if (!created.ok) return results;
  let triggered: PrivilegeCheck | undefined;
  try {
    results.push(
      await attempt(
        conn,
        "ALTER TABLE (columns the events gain, AUTO_INCREMENT headroom)",
        `ALTER TABLE ${table} ADD COLUMN v int`,
        grantFix(session, "ALTER"),
      ),
    );
    triggered = await attempt(
      conn,
      "CREATE TRIGGER (the overlay's row triggers)",
      `CREATE TRIGGER ${trigger} AFTER INSERT ON ${table} FOR EACH ROW SET @shadowdb_check = NEW.id`,
      triggerFix(session),
    );
    results.push(triggered);
  } finally {
    const drops: [string, string][] = triggered?.ok ? [[`DROP TRIGGER ${trigger}`, "trigger"]] : [];
    drops.push([`DROP TABLE ${table}`, "table"]);
    for (const [sql, what] of drops) {
      const dropped = await attempt(
        conn,
        `DROP ${what.toUpperCase()} (overlay uninstall and reinstall)`,
        sql,
        grantFix(session, what === "table" ? "DROP" : "TRIGGER"),
      );
      if (!dropped.ok) dropped.error = `${dropped.error}; ${what} ${session.database}.${name} is left behind`;
      results.push(dropped);
    }
  }
  return results;
}
