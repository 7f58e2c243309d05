/**
 * `shadowdb check` and `shadowdb status` as an operator runs them, on the real stack: check passes
 * a good config on both engines (Kafka, the target's privileges, the mapped table, the stack's
 * Debezium connectors through Connect's REST API); it fails within seconds on an unreachable
 * broker, and names the missing privilege and its fix for a weak target user. status shows the
 * positions a run stored, the lag, the overlay's owned keys after a shadow write, and the dead
 * letters kept.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, test } from "node:test";
import mysql from "mysql2/promise";
import pg from "pg";
import { overlayNames } from "../../src/overlay/names.ts";
import { loadDialect } from "../../src/target/load.ts";
import type { Sql } from "../support/crash.ts";
import { type Engine, engines } from "../support/engines.ts";
import { services } from "../support/env.ts";
import { kafkaClient, waitForTopic } from "../support/kafka.ts";
import { eventually, startMaterializer } from "../support/materialize.ts";
import { uninstallOverlays } from "../support/overlay.ts";

const suffix = randomBytes(4).toString("hex");
const files: string[] = [];

after(() => {
  for (const file of files) rmSync(file, { force: true });
});

const cli = (...args: string[]) =>
  spawnSync(process.execPath, ["--import", "tsx", "src/cli/main.ts", ...args], { encoding: "utf8" });

function configFile(name: string, yaml: string): string {
  const file = path.join(tmpdir(), `shadowdb-check-${suffix}-${name}.yaml`);
  writeFileSync(file, yaml);
  files.push(file);
  return file;
}

function yamlFor(
  engine: Engine,
  o: { table: string; group: string; url?: string; brokers?: string },
): string {
  return `kafka: { brokers: "${o.brokers ?? engine.brokers}", groupId: "${o.group}" }
target: { dialect: ${engine.dialect}, url: "${o.url ?? engine.shadowUrl}" }
tables: [ { topic: "${engine.topic(o.table)}", table: "${engine.targetSchema}.${o.table}" } ]
overlay: { enabled: false }
deadLetter: { table: "${engine.targetSchema}.dl_${suffix}" }
http: { port: 0 }
log: { level: warn }
`;
}

/** The lines of a text report with this check name, by status symbol. */
function lines(stdout: string, check: string): string[] {
  return stdout.split("\n").filter((l) => new RegExp(`^[✔!✖] ${check.replace(".", "\\.")}: `).test(l));
}

for (const engine of engines(await services())) {
  test(`${engine.name}: check passes a good config, status shows positions, lag, overlay and dead letters`, {
    timeout: 180_000,
  }, async () => {
    const env = await services();
    const table = `chk_${suffix}`;
    const group = `test-chk-${engine.name}-${suffix}`;
    const qualified = { schema: engine.targetSchema, name: table };
    const prod = await engine.connectProd();
    const shadow = await engine.connectShadow();
    try {
      await prod.query(`CREATE TABLE ${table} (id int PRIMARY KEY, v varchar(20) NOT NULL)`);
      await prod.query(`INSERT INTO ${table} (id, v) VALUES (1, 'one'), (2, 'two')`);
      await waitForTopic(kafkaClient(engine.brokers), engine.topic(table));
      const yaml = yamlFor(engine, { table, group });
      const file = configFile(engine.name, yaml);

      const running = await startMaterializer(yaml);
      try {
        await eventually(
          "the snapshot arrives",
          async () => {
            const { rows } = await shadow
              .query(`SELECT count(*) AS n FROM ${table}`)
              .catch(() => ({ rows: [] }));
            return Number(rows[0]?.n) === 2 ? true : `rows: ${JSON.stringify(rows)}`;
          },
          90_000,
          running,
        );
      } finally {
        await running.stop();
      }

      const checked = cli("check", "--config", file, "--connect-url", env.SHADOWDB_CONNECT_URL);
      assert.equal(checked.status, 0, checked.stdout + checked.stderr);
      for (const check of ["config", "kafka.brokers", "target.connect", "connect.reachable"])
        assert.equal(lines(checked.stdout, check).length, 1, `${check}:\n${checked.stdout}`);
      assert.match(
        checked.stdout,
        new RegExp(`^✔ kafka\\.topics: tables\\[0\\]: ${engine.topic(table)} exists$`, "m"),
      );
      assert.match(
        checked.stdout,
        new RegExp(`^✔ target\\.tables: ${engine.targetSchema}\\.${table} exists, key \\(id\\)$`, "m"),
      );
      const privileges = lines(checked.stdout, "target.privileges");
      assert.ok(privileges.length >= 4, checked.stdout);
      assert.ok(
        privileges.every((l) => l.startsWith("✔")),
        privileges.join("\n"),
      );
      assert.ok(privileges.some((l) => /CREATE TRIGGER/.test(l)));
      assert.match(
        checked.stdout,
        new RegExp(`^✔ connect\\.connector: shadowdb-${engine.prefix} .*RUNNING, task 0 RUNNING$`, "m"),
      );
      assert.match(
        checked.stdout,
        new RegExp(`^✔ connect\\.setting: shadowdb-${engine.prefix}: skipped\\.operations = none$`, "m"),
      );
      assert.doesNotMatch(
        checked.stdout,
        new RegExp(`^. connect\\.(connector|setting): shadowdb-(?!${engine.prefix}\\b)`, "m"),
        "only the connector that feeds the config",
      );
      assert.match(checked.stdout, /\d+ checks: 0 failed/);
      assert.doesNotMatch(checked.stdout, /shadowdb_check_/, "no probe object named in a passing report");
      assert.equal(await leftovers(engine, shadow), 0, "the privilege probe leaves nothing behind");

      const json = cli("check", "--config", file, "--format", "json");
      assert.equal(json.status, 0, json.stderr);
      const report = JSON.parse(json.stdout) as { ok: boolean; failed: number; checks: { check: string }[] };
      assert.equal(report.ok, true);
      assert.equal(report.failed, 0);
      assert.ok(
        !report.checks.some((c) => c.check.startsWith("connect.")),
        "no Connect checks without --connect-url",
      );

      // The overlay installed through the target API, then the shadow service writes one row.
      const dialect = await loadDialect(engine.dialect);
      const target = new dialect.Target(engine.shadowUrl);
      try {
        await target.installOverlay(overlayNames(qualified));
      } finally {
        await target.close();
      }
      await shadow.query(`UPDATE ${table} SET v = 'mine' WHERE id = 1`);
      await shadow.query(
        `INSERT INTO dl_${suffix} (group_id, topic, ${engine.name === "postgres" ? '"partition"' : "`partition`"}, kafka_offset, code, message)
         VALUES ('${group}', '${engine.topic(table)}', 0, 7, 'DECODE_MALFORMED_JSON', 'a test letter')`,
      );

      const status = cli("status", "--config", file, "--format", "json");
      assert.equal(status.status, 0, status.stderr);
      const body = JSON.parse(status.stdout) as {
        groupId: string;
        partitions: { topic: string; partition: number; position: string | null; end: string; lag: string }[];
        overlays: { table: string; owned: number; hidden: number }[];
        deadLetters: { store: string; stored: number };
      };
      assert.equal(body.groupId, group);
      const partition = body.partitions.find((p) => p.topic === engine.topic(table));
      assert.ok(partition, JSON.stringify(body.partitions));
      assert.equal(partition.partition, 0);
      assert.ok(Number(partition.position) >= 2, "the snapshot's records are applied");
      assert.equal(partition.position, partition.end, "nothing left to apply");
      assert.equal(partition.lag, "0");
      assert.deepEqual(
        body.overlays.find((o) => o.table === `${engine.targetSchema}.${table}`),
        { table: `${engine.targetSchema}.${table}`, owned: 1, hidden: 0 },
      );
      assert.deepEqual(body.deadLetters, {
        store: "table",
        table: `${engine.targetSchema}.dl_${suffix}`,
        stored: 1,
      });

      // Production moves on while nothing runs: the lag shows it.
      await prod.query(`INSERT INTO ${table} (id, v) VALUES (3, 'three')`);
      await eventually("the new change reaches the topic", async () => {
        const text = cli("status", "--config", file);
        assert.equal(text.status, 0, text.stderr);
        const row = text.stdout.split("\n").find((l) => l.startsWith(`${engine.topic(table)} `));
        return row !== undefined && /\s1$/.test(row) ? true : text.stdout;
      });
      const text = cli("status", "--config", file);
      assert.match(text.stdout, /^TOPIC\s+PARTITION\s+POSITION\s+END\s+LAG$/m);
      assert.match(text.stdout, new RegExp(`^${engine.targetSchema}\\.${table}\\s+1\\s+0$`, "m"));
      assert.match(text.stdout, new RegExp(`dead letters: 1 in table ${engine.targetSchema}\\.dl_${suffix}`));
    } finally {
      await uninstallOverlays(engine.dialect, engine.shadowUrl, [qualified]).catch(() => undefined);
      await prod.query(`DROP TABLE IF EXISTS ${table}`).catch(() => undefined);
      for (const t of [table, `dl_${suffix}`])
        await shadow.query(`DROP TABLE IF EXISTS ${t}`).catch(() => undefined);
      await shadow.query(`DELETE FROM shadowdb_positions WHERE group_id = '${group}'`).catch(() => undefined);
      await prod.end();
      await shadow.end();
    }
  });
}

/** Tables whose name the privilege probe uses, in the shadow's schema or database. */
async function leftovers(engine: Engine, shadow: Sql): Promise<number> {
  const { rows } = await shadow.query(
    `SELECT count(*) AS n FROM information_schema.tables
      WHERE table_schema = '${engine.targetSchema}' AND table_name LIKE 'shadowdb\\_check\\_%'`,
  );
  return Number(rows[0]!.n);
}

test("check fails within seconds on an unreachable broker, and says what to fix", async () => {
  const [engine] = engines(await services());
  const file = configFile("nobroker", yamlFor(engine!, { table: "t", group: "g", brokers: "127.0.0.1:1" }));
  const started = Date.now();
  const run = cli("check", "--config", file);
  const seconds = (Date.now() - started) / 1000;
  assert.equal(run.status, 1, run.stdout + run.stderr);
  assert.ok(seconds < 15, `took ${seconds}s`);
  assert.match(run.stdout, /^✖ kafka\.brokers: 127\.0\.0\.1:1 did not answer: .*ECONNREFUSED/m);
  assert.match(run.stdout, /^✖ kafka\.brokers: .*\n {4}fix: check kafka\.brokers/m);
  assert.match(run.stdout, /^✔ target\.connect: /m, "the other checks still ran");
  const status = cli("status", "--config", file);
  assert.equal(status.status, 2);
  assert.match(status.stderr, /^shadowdb status: kafka 127\.0\.0\.1:1: /);
});

test("a config that does not load is exit 2, reported as the config check", async () => {
  const file = configFile("broken", "kafka: { brokers: nohostport, groupId: g }\n");
  const run = cli("check", "--config", file, "--format", "json");
  assert.equal(run.status, 2);
  const report = JSON.parse(run.stdout) as {
    ok: boolean;
    checks: { check: string; status: string; message: string }[];
  };
  assert.equal(report.ok, false);
  assert.deepEqual(
    report.checks.map((c) => [c.check, c.status]),
    [["config", "fail"]],
  );
  assert.match(report.checks[0]!.message, /^CONFIG_INVALID: .*kafka\.brokers/s);
});

test("postgres: a role without rights fails the privilege checks with a GRANT to run", async () => {
  const env = await services();
  const [engine] = engines(env);
  const role = `shadowdb_check_weak_${suffix}`;
  // A fresh schema the role may use but not create in, as its search_path: the same on every
  // PostgreSQL version (before 15, PUBLIC may create in schema public).
  const schema = role;
  const admin = new pg.Client({ connectionString: env.SHADOWDB_PG_SHADOW_URL });
  await admin.connect();
  try {
    await admin.query(`CREATE ROLE ${role} LOGIN`);
    await admin.query(`CREATE SCHEMA ${schema}`);
    await admin.query(`GRANT USAGE ON SCHEMA ${schema} TO ${role}`);
    await admin.query(`ALTER ROLE ${role} SET search_path = ${schema}`);
    const url = new URL(env.SHADOWDB_PG_SHADOW_URL);
    url.username = role;
    url.password = "not-printed-0123";
    const file = configFile("weak-pg", yamlFor(engine!, { table: "t", group: "g", url: url.href }));
    const run = cli("check", "--config", file);
    assert.equal(run.status, 1, run.stdout + run.stderr);
    assert.match(run.stdout, new RegExp(`^✔ target\\.connect: postgresql://${role}:\\*\\*\\*@`, "m"));
    assert.doesNotMatch(run.stdout + run.stderr, /not-printed-0123/, "the password is never printed");
    assert.match(
      run.stdout,
      new RegExp(
        `^✖ target\\.privileges: SET LOCAL session_replication_role = replica .*: 42501: .*\\n {4}fix: GRANT SET ON PARAMETER session_replication_role TO "${role}"`,
        "m",
      ),
    );
    assert.match(
      run.stdout,
      new RegExp(
        `^✖ target\\.privileges: CREATE TABLE in schema ${schema} .*: 42501: .*\\n {4}fix: GRANT CREATE ON SCHEMA "${schema}" TO "${role}"$`,
        "m",
      ),
    );
  } finally {
    await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => undefined);
    await admin.query(`DROP ROLE IF EXISTS ${role}`).catch(() => undefined);
    await admin.end();
  }
});

test("mariadb: a user without SUPER under binary logging is told about log_bin_trust_function_creators", async () => {
  const env = await services();
  const [, engine] = engines(env);
  const user = `shadowdb_weak_${suffix}`;
  const root = await mysql.createConnection(env.SHADOWDB_MY_SHADOW_URL);
  const url = new URL(env.SHADOWDB_MY_SHADOW_URL);
  try {
    const [vars] = await root.query("SELECT @@log_bin AS bin, @@log_bin_trust_function_creators AS trust");
    const { bin, trust } = (vars as { bin: number; trust: number }[])[0]!;
    await root.query("CREATE USER ?@? IDENTIFIED BY ''", [user, url.hostname]);
    await root.query(
      `GRANT CREATE, DROP, ALTER, TRIGGER, SELECT, INSERT ON \`${engine!.targetSchema}\`.* TO ?@?`,
      [user, url.hostname],
    );
    url.username = user;
    const file = configFile("weak-my", yamlFor(engine!, { table: "t", group: "g", url: url.href }));
    const run = cli("check", "--config", file);
    const trigger = run.stdout.split("\n").find((l) => / target\.privileges: CREATE TRIGGER/.test(l));
    assert.ok(trigger, run.stdout);
    if (Number(bin) === 1 && Number(trust) === 0) {
      assert.equal(run.status, 1, run.stdout);
      assert.match(trigger, /^✖ .*: 1419 ER_BINLOG_CREATE_ROUTINE_NEED_SUPER/);
      assert.match(
        run.stdout,
        /\n {4}fix: binary logging is on and '.*' lacks SUPER.*log_bin_trust_function_creators = 1/,
      );
    } else {
      assert.match(trigger, /^✔ /, "without binary logging (or with trust) the trigger is allowed");
    }
    assert.match(run.stdout, /^✔ target\.privileges: DROP TABLE/m, "the probe's table is dropped again");
    const [left] = await root.query(
      "SELECT count(*) AS n FROM information_schema.tables WHERE table_schema = ? AND table_name LIKE 'shadowdb\\_check\\_%'",
      [engine!.targetSchema],
    );
    assert.equal(Number((left as { n: number }[])[0]!.n), 0);
  } finally {
    await root.query("DROP USER IF EXISTS ?@?", [user, url.hostname]).catch(() => undefined);
    await root.end();
  }
});
