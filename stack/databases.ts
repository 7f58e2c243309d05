import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { appendFile, readFile } from "node:fs/promises";
import mysql from "mysql2/promise";
import pg from "pg";
import { avroTopicPrefixes, debeziumUser, ports, topicPrefixes } from "./layout.ts";
import { StackError, waitFor } from "./wait.ts";

const pgSlot = `shadowdb_${topicPrefixes.postgres}`;
export const pgPublication = pgSlot;
/** The Avro connector's own slot and publication: two connectors never share a slot. */
const pgAvroSlot = `shadowdb_${avroTopicPrefixes.postgres}`;
const pgAvroPublication = pgAvroSlot;

export interface Server {
  host: string;
  port: number;
  user: string;
  password?: string;
}

const localPg: Server = { host: "127.0.0.1", port: ports.postgres, user: "postgres" };
const localMy: Server = { host: "127.0.0.1", port: ports.mariadb, user: "root" };

async function withPg<T>(
  server: Server,
  database: string,
  fn: (client: pg.Client) => Promise<T>,
): Promise<T> {
  const client = new pg.Client({ ...server, database });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

function restartPostgres(): void {
  // Debian's wrapper knows the cluster's data directory and runs as the postgres user.
  const versions = spawnSync("ls", ["/etc/postgresql"], { encoding: "utf8" }).stdout.trim().split("\n");
  const version = versions.at(-1);
  const run = spawnSync("pg_ctlcluster", ["--skip-systemctl-redirect", version ?? "", "main", "restart"], {
    encoding: "utf8",
  });
  if (run.status !== 0) {
    throw new StackError(
      "PostgreSQL needs a restart for wal_level=logical and pg_ctlcluster failed; restart it yourself",
      `${run.stdout}${run.stderr}`,
    );
  }
}

/**
 * Makes the local PostgreSQL a Debezium source: logical WAL, a replication user, loopback
 * replication in pg_hba, databases `prod` and `shadow`, and a FOR ALL TABLES publication so that
 * tables created later are captured without touching the connector.
 */
export async function preparePostgres(opts: {
  kafkaIsNew: boolean;
  log: (l: string) => void;
}): Promise<void> {
  const needsRestart = await withPg(localPg, "postgres", async (c) => {
    const { rows } = await c.query<{ wal_level: string }>("SHOW wal_level");
    if (rows[0]?.wal_level === "logical") return false;
    await c.query("ALTER SYSTEM SET wal_level = logical");
    return true;
  });
  if (needsRestart) {
    opts.log("PostgreSQL: setting wal_level=logical and restarting");
    restartPostgres();
    await waitFor("PostgreSQL after restart", async () => withPg(localPg, "postgres", async () => true), {
      timeoutMs: 60_000,
    });
  }

  await withPg(localPg, "postgres", async (c) => {
    const replicationRule = await c.query(
      "SELECT 1 FROM pg_hba_file_rules WHERE 'replication' = ANY(database) AND (address IS NULL OR address = '127.0.0.1')",
    );
    if (replicationRule.rowCount === 0) {
      const { rows } = await c.query<{ hba_file: string }>("SHOW hba_file");
      // The servers here trust loopback; replication connections are not covered by `all`.
      await appendFile(
        rows[0]!.hba_file,
        "\n# shadowdb stack: Debezium replication over loopback\nhost replication all 127.0.0.1/32 trust\n",
      );
      await c.query("SELECT pg_reload_conf()");
    }
    if (opts.kafkaIsNew) {
      // The slot's position belongs to the Connect offsets that were just wiped with Kafka's storage.
      await c.query(
        "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = ANY($1) AND NOT active",
        [[pgSlot, pgAvroSlot]],
      );
    }
  });
  await ensurePostgresObjects(localPg);
}

/** The role, databases, grants and publication Debezium's PostgreSQL connector documents; idempotent. */
export async function ensurePostgresObjects(server: Server): Promise<void> {
  await withPg(server, "postgres", async (c) => {
    const role = await c.query("SELECT 1 FROM pg_roles WHERE rolname = $1", [debeziumUser.name]);
    if (role.rowCount === 0) {
      await c.query(
        `CREATE ROLE ${debeziumUser.name} WITH LOGIN REPLICATION PASSWORD '${debeziumUser.password}'`,
      );
    }
    for (const db of ["prod", "shadow"]) {
      const exists = await c.query("SELECT 1 FROM pg_database WHERE datname = $1", [db]);
      if (exists.rowCount === 0) await c.query(`CREATE DATABASE ${db}`);
    }
  });
  await withPg(server, "prod", async (c) => {
    await c.query(`GRANT CONNECT ON DATABASE prod TO ${debeziumUser.name}`);
    await c.query(`GRANT USAGE ON SCHEMA public TO ${debeziumUser.name}`);
    await c.query(`GRANT SELECT ON ALL TABLES IN SCHEMA public TO ${debeziumUser.name}`);
    await c.query(`ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO ${debeziumUser.name}`);
    for (const name of [pgPublication, pgAvroPublication]) {
      const publication = await c.query("SELECT 1 FROM pg_publication WHERE pubname = $1", [name]);
      if (publication.rowCount === 0) await c.query(`CREATE PUBLICATION ${name} FOR ALL TABLES`);
    }
  });
}

const myCnfBlock = [
  "",
  "# shadowdb stack: row-based binlog for Debezium",
  "[mariadbd]",
  "server_id = 223344",
  "log_bin = mysql-bin",
  "binlog_format = ROW",
  "binlog_row_image = FULL",
  "binlog_expire_logs_seconds = 86400",
  "",
].join("\n");

async function withMy<T>(fn: (c: mysql.Connection) => Promise<T>, server: Server = localMy): Promise<T> {
  const c = await mysql.createConnection(server);
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

async function restartMariaDb(log: (l: string) => void): Promise<void> {
  log("MariaDB: enabling the row-based binlog and restarting");
  const pid = await withMy(async (c) => {
    const [rows] = await c.query("SELECT @@pid_file AS pidFile");
    const pidFile = (rows as { pidFile: string }[])[0]!.pidFile;
    await c.query("SHUTDOWN");
    return Number.parseInt(await readFile(pidFile, "utf8"), 10);
  });
  // start-stop-daemon --oknodo would accept a still-exiting server as "already running".
  await waitFor("MariaDB shutdown", async () => (existsSync(`/proc/${pid}`) ? undefined : true), {
    timeoutMs: 60_000,
    logFile: "/var/log/mysql/error.log",
  });
  const run =
    existsSync("/sbin/start-stop-daemon") || existsSync("/usr/sbin/start-stop-daemon")
      ? spawnSync("start-stop-daemon", [
          "--start",
          "--oknodo",
          "--background",
          "--exec",
          "/usr/sbin/mariadbd",
        ])
      : spawnSync("sh", ["-c", "nohup /usr/sbin/mariadbd >/dev/null 2>&1 &"]);
  if (run.status !== 0) throw new StackError("could not start mariadbd again", String(run.stderr));
  await waitFor("MariaDB after restart", async () => withMy(async () => true), {
    timeoutMs: 60_000,
    logFile: "/var/log/mysql/error.log",
  });
}

/** Makes the local MariaDB a Debezium source: row binlog with full images, a server id, grants, databases. */
export async function prepareMariaDb(opts: { log: (l: string) => void }): Promise<void> {
  const settings = await withMy(async (c) => {
    const [rows] = await c.query(
      "SELECT @@log_bin AS logBin, @@binlog_format AS format, @@binlog_row_image AS image, @@server_id AS serverId",
    );
    return (rows as { logBin: number; format: string; image: string; serverId: number }[])[0]!;
  });
  const ready = settings.logBin === 1 && settings.format === "ROW" && settings.image === "FULL";
  if (!ready) {
    const cnf = process.env.SHADOWDB_STACK_MY_CNF ?? "/etc/mysql/my.cnf";
    const text = await readFile(cnf, "utf8").catch(() => "");
    if (!text.includes("# shadowdb stack:")) await appendFile(cnf, myCnfBlock);
    await restartMariaDb(opts.log);
  }
  await ensureMariaDbObjects(localMy);
}

/** The databases, user and grants Debezium's MySQL/MariaDB connectors document; idempotent. */
export async function ensureMariaDbObjects(server: Server): Promise<void> {
  await withMy(async (c) => {
    await c.query("CREATE DATABASE IF NOT EXISTS prod");
    await c.query("CREATE DATABASE IF NOT EXISTS shadow");
    await c.query(
      `CREATE USER IF NOT EXISTS '${debeziumUser.name}'@'%' IDENTIFIED BY '${debeziumUser.password}'`,
    );
    await c.query(
      `GRANT SELECT, RELOAD, SHOW DATABASES, REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO '${debeziumUser.name}'@'%'`,
    );
  }, server);
}
