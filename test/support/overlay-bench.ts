/**
 * The overlay on a real engine without Kafka, behind one interface, so that one behaviour suite
 * (overlay-suite.ts, overlay-suite-races.ts) runs on PostgreSQL and on MariaDB: the Target is
 * driven directly, as the materializer would, and ordinary sessions play the shadow service.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import mysql from "mysql2/promise";
import pg from "pg";
import type { Value } from "../../src/decode/values.ts";
import { isShadowdbError } from "../../src/errors.ts";
import { overlayNames } from "../../src/overlay/names.ts";
import type {
  OverlayNames,
  QualifiedName,
  TableWrite,
  Target,
  WriteOutcome,
} from "../../src/target/dialect.ts";
import { MysqlTarget } from "../../src/target/mysql/target.ts";
import { PostgresTarget } from "../../src/target/postgres/target.ts";
import { stackEnv } from "../../stack/layout.ts";

export interface Changes {
  upserts?: Record<string, Value>[];
  deletes?: Record<string, Value>[];
  truncate?: boolean;
}

/** A session of the shadow service: nothing set, the server's default isolation level. */
export interface Session {
  query(sql: string): Promise<unknown>;
  close(): Promise<void>;
}

export interface OverlayBench {
  engine: "postgres" | "mariadb";
  /** Install, uninstall, reset, diff: a session apart from the apply writes. */
  admin: Target;
  suffix: string;
  /** A fresh table `ov_<base>_<suffix>` (dropped after the run), its overlay installed unless told. */
  overlaid(base: string, columns: string, install?: boolean): Promise<OverlayNames>;
  /** One apply transaction with one write, through the overlay unless `overlay` is false. */
  apply(
    names: OverlayNames,
    changes: Changes,
    options?: { path?: string; overlay?: boolean },
  ): Promise<WriteOutcome>;
  /** The apply write as TableWrite, for tests that hold an apply transaction open. */
  applyTarget(path?: string): Target;
  tableWrite(names: OverlayNames, changes: Changes): Promise<TableWrite>;
  shadow(): Promise<Session>;
  /** `sql`'s rows as "a|b|c" lines, NULL as ∅, read outside every transaction under test. */
  lines(sql: string): Promise<string[]>;
  /**
   * Resolves once `pending` waits for a lock `holder` holds on `table`; fails if it settles first.
   * PostgreSQL reports the blocking backend; MariaDB the waiting statement, by its table name.
   */
  blocked(holder: Session, pending: Promise<unknown>, table: QualifiedName): Promise<void>;
  /** A duplicate-key error as the engine raises it (PostgreSQL also names `constraint`, if given). */
  isDuplicate(e: unknown, constraint?: string): boolean;
  close(): Promise<void>;
}

export interface OverlayEngine {
  name: "postgres" | "mariadb";
  /** The write paths apply takes; the suite runs its routing tests once per path. */
  paths: string[];
  open(): Promise<OverlayBench>;
}

export const contents = (bench: OverlayBench, table: { name: string }, columns = "id, v") =>
  bench.lines(`SELECT ${columns} FROM ${table.name} ORDER BY 1`);
export const ownership = (bench: OverlayBench, names: OverlayNames) =>
  bench.lines(`SELECT id, how FROM ${names.owned.name} ORDER BY 1`);

/** Production rows (id, v, n), as in the table before the shadow writes. */
export function prodRows(...rows: [number, string, number?][]): Record<string, Value>[] {
  return rows.map(([id, v, n]) => ({ id, v, n: n ?? null }));
}

const cell = (c: unknown) => (c === null ? "∅" : String(c));

/** One apply write of `changes` through the overlay, as apply/writes.ts builds it. */
export async function describeWrite(
  target: Pick<Target, "describe">,
  names: OverlayNames,
  changes: Changes,
): Promise<TableWrite> {
  return {
    table: (await target.describe(names.table))!,
    types: {},
    upserts: changes.upserts ?? [],
    deletes: changes.deletes ?? [],
    truncate: changes.truncate ?? false,
    overlay: names,
  };
}

async function applyWith(target: Target, names: OverlayNames, changes: Changes, overlay = true) {
  const write = await describeWrite(target, names, changes);
  if (!overlay) delete write.overlay;
  return target.transaction((tx) => tx.write(write));
}

export const postgresOverlay: OverlayEngine = {
  name: "postgres",
  paths: ["unnest", "COPY"],
  async open() {
    const url = process.env.SHADOWDB_PG_SHADOW_URL ?? stackEnv().SHADOWDB_PG_SHADOW_URL;
    const suffix = randomBytes(4).toString("hex");
    const targets: Record<string, PostgresTarget> = {
      unnest: new PostgresTarget(url, undefined, { copyThreshold: Number.MAX_SAFE_INTEGER }),
      COPY: new PostgresTarget(url, undefined, { copyThreshold: 1 }),
    };
    const admin = new PostgresTarget(url);
    const tables: OverlayNames[] = [];
    const sessions: pg.Client[] = [];
    const client = async (name: string) => {
      const c = new pg.Client({ connectionString: url, application_name: name });
      await c.connect();
      await c.query("SET TimeZone = 'UTC'");
      return c;
    };
    const look = await client("overlay-test-look");
    await targets.unnest!.prepare();
    const pids = new WeakMap<Session, number>();
    const pathTarget = (path = "unnest") => targets[path]!;
    return {
      engine: "postgres",
      admin,
      suffix,
      async overlaid(base, columns, install = true) {
        const names = overlayNames({ schema: "public", name: `ov_${base}_${suffix}` });
        await look.query(`CREATE TABLE public.${names.table.name} (${columns})`);
        tables.push(names);
        if (install) await admin.installOverlay(names);
        return names;
      },
      apply: (names, changes, options = {}) =>
        applyWith(pathTarget(options.path), names, changes, options.overlay),
      applyTarget: pathTarget,
      tableWrite: (names, changes) => describeWrite(targets.unnest!, names, changes),
      async shadow() {
        const c = await client("overlay-test-shadow");
        sessions.push(c);
        const { rows } = await c.query<{ pid: number }>("SELECT pg_backend_pid() AS pid");
        const session: Session = { query: (sql) => c.query(sql), close: () => c.end() };
        pids.set(session, rows[0]!.pid);
        return session;
      },
      async lines(sql) {
        const { rows } = await look.query({ text: sql, rowMode: "array" });
        return (rows as unknown[][]).map((r) => r.map(cell).join("|"));
      },
      async blocked(holder, pending) {
        let settled = false;
        const settle = () => {
          settled = true;
        };
        void pending.then(settle, settle);
        for (let i = 0; i < 400; i++) {
          const { rows } = await look.query<{ n: number }>(
            "SELECT count(*)::int AS n FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))",
            [pids.get(holder)],
          );
          if (rows[0]!.n > 0) return;
          if (settled) throw new Error("the write finished without waiting for the shadow's transaction");
          await sleep(10);
        }
        throw new Error(`nothing waited for backend ${pids.get(holder)}`);
      },
      isDuplicate: (e, constraint) =>
        (e as { code?: string }).code === "23505" &&
        (constraint === undefined || (e as { constraint?: string }).constraint === constraint),
      async close() {
        for (const c of sessions) await c.end().catch(() => undefined);
        for (const names of tables) {
          await admin.uninstallOverlay(names).catch(() => undefined);
          await look.query(`DROP TABLE IF EXISTS public.${names.table.name}`);
        }
        for (const t of [...Object.values(targets), admin]) await t.close();
        await look.end();
      },
    };
  },
};

export const mariadbOverlay: OverlayEngine = {
  name: "mariadb",
  paths: ["statements"],
  async open() {
    const url = process.env.SHADOWDB_MY_SHADOW_URL ?? stackEnv().SHADOWDB_MY_SHADOW_URL;
    const suffix = randomBytes(4).toString("hex");
    const target = new MysqlTarget(url);
    const made: OverlayNames[] = [];
    const sessions: mysql.Connection[] = [];
    const connect = async () => {
      const c = await mysql.createConnection({
        uri: url,
        dateStrings: true,
        supportBigNumbers: true,
        bigNumberStrings: true,
      });
      sessions.push(c);
      return c;
    };
    // Marked like the apply session, so its reads and cleanup are never tracked.
    const look = await connect();
    await look.query("SET @shadowdb_apply = 1, time_zone = '+00:00'");
    const [db] = await look.query("SELECT DATABASE() AS db");
    const database = (db as { db: string }[])[0]!.db;
    await target.prepare();
    /** InnoDB renews its INNODB_TRX snapshot only after 0.1 s: poll slower than that. */
    const waitsForLock = async (fragment: string) => {
      for (let i = 0; i < 100; i++) {
        await sleep(150);
        const [rows] = await look.query(
          "SELECT COUNT(*) AS n FROM information_schema.INNODB_TRX WHERE trx_state = 'LOCK WAIT' AND LOCATE(?, trx_query) > 0",
          [fragment],
        );
        if (Number((rows as { n: number }[])[0]!.n) > 0) return;
      }
      throw new Error(`nobody waited for a lock in a statement with ${fragment}`);
    };
    return {
      engine: "mariadb",
      admin: target,
      suffix,
      async overlaid(base, columns, install = true) {
        const names = overlayNames({ schema: database, name: `ov_${base}_${suffix}` });
        await look.query(
          `CREATE TABLE ${names.table.name} (${columns}) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
        );
        made.push(names);
        if (install) await target.installOverlay(names);
        return names;
      },
      apply: (names, changes, options = {}) => applyWith(target, names, changes, options.overlay),
      applyTarget: () => target,
      tableWrite: (names, changes) => describeWrite(target, names, changes),
      async shadow() {
        const c = await connect();
        return { query: (sql) => c.query(sql), close: async () => c.destroy() };
      },
      async lines(sql) {
        const [rows] = await look.query({ sql, rowsAsArray: true });
        return (rows as unknown[][]).map((r) => r.map(cell).join("|"));
      },
      async blocked(_holder, pending, table) {
        // The table as the apply statements quote it (not matching the copy's or ownership table's).
        await waitsForLock(`\`${table.name}\``);
        const marker = Symbol();
        const raced = await Promise.race([pending.then(() => undefined), sleep(300).then(() => marker)]);
        assert.equal(raced, marker, "the write waits for the shadow's transaction");
      },
      isDuplicate: (e) => (e as { errno?: number }).errno === 1062,
      async close() {
        // Shadow sessions first: a transaction a failed test left open would hold the tables.
        for (const s of sessions.filter((s) => s !== look)) s.destroy();
        await target.close();
        for (const names of made) {
          await target.uninstallOverlay(names).catch(() => undefined);
          await look.query(`DROP TABLE IF EXISTS \`${names.table.name}\``);
        }
        await look.end();
      },
    };
  },
};

/** True for an error that says the overlay is not installed, whichever engine raised it. */
export const notInstalled = (e: unknown) => isShadowdbError(e, "OVERLAY_NOT_INSTALLED");
