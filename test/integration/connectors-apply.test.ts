/**
 * `shadowdb connectors apply` as an operator runs it, against the real Kafka Connect worker of the
 * stack (Debezium's plugins, the stack's PostgreSQL and MariaDB):
 * - an unset variable stops it before anything is sent (a recording HTTP server sees no request),
 *   and an unreachable Connect is exit 2;
 * - --dry-run of connectors/postgres.json with the stack's variables: Connect and Debezium
 *   validate it (Debezium logs into the database), exit 0, no connector created or changed;
 * - connectors/mysql.json, --dry-run against the stack's MariaDB (there is no MySQL server here);
 * - a real apply of postgres.json under a new name and topic prefix (its own slot, the stack's
 *   publication, one probe table): RUNNING, its topic appears; applied again with a changed
 *   setting: updated, GET config shows it; several files where Connect rejects two (a bad
 *   snapshot.mode, no database.hostname): exit 1, each setting named, nothing created or changed,
 *   the password given nowhere in the output.
 * Everything created is removed afterwards: connector (stopped, offsets reset, deleted), its
 * replication slot, its topics, the probe table.
 *
 * Connect must reach the databases at the addresses in SHADOWDB_PG_PROD_URL / SHADOWDB_MY_PROD_URL
 * (true for the local stack and for servers given by environment; not for testcontainers, where
 * the worker sees them by container name).
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, test } from "node:test";
import pg from "pg";
import { judgeConnector, sourceEngine } from "../../src/check/connector-rules.ts";
import { scrubber, shownValue } from "../../src/connectors/secrets.ts";
import { connectorVars, rest } from "../../stack/connect.ts";
import { pgPublication } from "../../stack/databases.ts";
import { removeTopics, waitUntil } from "../fixtures/harness.ts";
import { services } from "../support/env.ts";
import { kafkaClient, waitForTopic } from "../support/kafka.ts";
import { freePort } from "../support/net.ts";

const env = await services();
const connectUrl = env.SHADOWDB_CONNECT_URL;
const suffix = randomBytes(4).toString("hex");
const endpoint = (url: string, port: number) => {
  const parsed = new URL(url);
  return { host: parsed.hostname, port: parsed.port === "" ? port : Number(parsed.port) };
};
/** The variables connectors/*.json take, as the stack fills them. */
const vars = connectorVars(env, {
  postgres: endpoint(env.SHADOWDB_PG_PROD_URL, 5432),
  mariadb: endpoint(env.SHADOWDB_MY_PROD_URL, 3306),
  brokers: env.SHADOWDB_KAFKA_BROKERS,
});

interface Run {
  code: number | null;
  out: string;
  err: string;
}

/** The CLI in a child process (async: the test's own HTTP server must keep answering). */
function cli(args: string[], variables: Record<string, string | undefined> = vars): Promise<Run> {
  const childEnv: Record<string, string | undefined> = { ...process.env };
  // Only the variables given: an SHADOWDB_* of the test's own environment must not fill a gap.
  for (const name of Object.keys(childEnv)) if (name.startsWith("SHADOWDB_")) delete childEnv[name];
  Object.assign(childEnv, variables);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", "src/cli/main.ts", "connectors", ...args], {
      env: childEnv,
    });
    let out = "";
    let err = "";
    child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (err += chunk.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, out, err }));
  });
}

const shown = (run: Run) => `exit ${run.code}\nstdout:\n${run.out}\nstderr:\n${run.err}`;

const files: string[] = [];
const connectors = new Set<string>();
const prefixes = new Set<string>();
let probeTable: string | undefined;

/** A connector file next to the tests, from `connectors/postgres.json` with `change` applied. */
function variant(
  name: string,
  change: (config: Record<string, string>) => void,
): { file: string; spec: { name: string; config: Record<string, string> } } {
  const spec = JSON.parse(readFileSync("connectors/postgres.json", "utf8")) as {
    name: string;
    config: Record<string, string>;
  };
  change(spec.config);
  const file = path.join(tmpdir(), `shadowdb-connectors-${suffix}-${name}.json`);
  writeFileSync(file, `${JSON.stringify(spec, null, 2)}\n`);
  files.push(file);
  return { file, spec };
}

/** The connectors this run may have made (others, e.g. a benchmark's, may come and go meanwhile). */
async function connectorNames(): Promise<string[]> {
  const { status, json } = await rest<string[]>("GET", "/connectors", undefined, connectUrl);
  assert.equal(status, 200);
  return json.filter((name) => name.includes(suffix)).sort();
}

/** Stop, reset offsets, delete: a later connector of the same name would otherwise resume. */
async function removeConnector(name: string): Promise<void> {
  if ((await rest("GET", `/connectors/${name}`, undefined, connectUrl)).status === 404) return;
  await rest("PUT", `/connectors/${name}/stop`, undefined, connectUrl);
  await waitUntil(`connector ${name} to stop`, async () => {
    const { json } = await rest<{ connector: { state: string }; tasks: unknown[] }>(
      "GET",
      `/connectors/${name}/status`,
      undefined,
      connectUrl,
    );
    return json.connector.state === "STOPPED" && json.tasks.length === 0 ? true : undefined;
  });
  await waitUntil(`offsets of ${name} to be reset`, async () => {
    const reset = await rest<{ message?: string }>(
      "DELETE",
      `/connectors/${name}/offsets`,
      undefined,
      connectUrl,
    );
    if (reset.status >= 300) throw new Error(`HTTP ${reset.status}: ${reset.json?.message ?? ""}`);
    return true;
  });
  const deleted = await rest("DELETE", `/connectors/${name}`, undefined, connectUrl);
  assert.ok(deleted.status < 300, `deleting ${name}: HTTP ${deleted.status}`);
}

async function withProd<T>(use: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: env.SHADOWDB_PG_PROD_URL });
  await client.connect();
  try {
    return await use(client);
  } finally {
    await client.end();
  }
}

after(async () => {
  for (const name of connectors) await removeConnector(name);
  await withProd(async (client) => {
    for (const prefix of prefixes) {
      const slot = `shadowdb_${prefix}`;
      // The walsender ends shortly after its connector: a slot still active cannot be dropped.
      await waitUntil(`slot ${slot} to be released`, async () => {
        const { rows } = await client.query<{ active: boolean }>(
          "SELECT active FROM pg_replication_slots WHERE slot_name = $1",
          [slot],
        );
        return rows[0]?.active ? undefined : true;
      });
      await client.query(
        "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1",
        [slot],
      );
    }
    if (probeTable !== undefined) await client.query(`DROP TABLE IF EXISTS ${probeTable}`);
  });
  const kafka = kafkaClient(env.SHADOWDB_KAFKA_BROKERS);
  for (const prefix of prefixes) await removeTopics(kafka, prefix);
  for (const file of files) rmSync(file, { force: true });
});

test("an unset variable is exit 2 naming it and the file, and nothing is sent", async () => {
  let requests = 0;
  const server = createServer((_, response) => {
    requests++;
    response.writeHead(500).end();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  try {
    const { SHADOWDB_PG_HOST: _, ...withoutHost } = vars;
    const run = await cli(
      // The unset variable is in the second file: the first must not have been sent either.
      ["apply", "--connect-url", `http://127.0.0.1:${port}`, "--file", "mariadb", "--file", "postgres"],
      withoutHost,
    );
    assert.equal(run.code, 2, shown(run));
    assert.match(run.err, /CONFIG_ENV_MISSING: connectors\/postgres\.json: /, shown(run));
    assert.match(run.err, /config\["database\.hostname"\]: SHADOWDB_PG_HOST is not set/, shown(run));
    assert.equal(requests, 0, "a request reached Connect");
  } finally {
    server.close();
  }
});

test("secrets: password settings show as ***, their values are cut out of Connect's text, URLs lose passwords", () => {
  assert.equal(shownValue("database.password", "s3cret!"), "***");
  assert.equal(shownValue("ssl.truststore.password", "x"), "***");
  assert.equal(shownValue("database.hostname", "db"), "db");
  assert.equal(
    shownValue("x.url", "jdbc:postgresql://u:pw@h/db"),
    "jdbc:postgresql://u:pw@h/db".replace(":pw@", ":***@"),
  );
  const scrub = scrubber({ "database.password": "s3cret!", "database.user": "s3cret!user" });
  assert.equal(scrub("login s3cret!user with s3cret! failed"), "login ***user with *** failed");
});

test("an unreachable Connect is exit 2, with the URL shown without its password", async () => {
  const port = await freePort();
  const run = await cli([
    "apply",
    "--connect-url",
    `http://admin:hunter22@127.0.0.1:${port}`,
    "--file",
    "postgres",
  ]);
  assert.equal(run.code, 2, shown(run));
  assert.match(
    run.err,
    /Kafka Connect is unreachable: .*http:\/\/admin:\*\*\*@127\.0\.0\.1:\d+.*ECONNREFUSED/,
    shown(run),
  );
  assert.doesNotMatch(`${run.out}${run.err}`, /hunter22/);
});

test("--dry-run: Connect validates connectors/postgres.json with the stack's variables; nothing changes", {
  timeout: 120_000,
}, async () => {
  const before = await connectorNames();
  const name = `shadowdb-${vars.SHADOWDB_PG_TOPIC_PREFIX}`;
  const liveBefore = await rest<Record<string, string>>(
    "GET",
    `/connectors/${name}/config`,
    undefined,
    connectUrl,
  );
  const run = await cli(["apply", "--connect-url", connectUrl, "--file", "postgres", "--dry-run"]);
  assert.equal(run.code, 0, shown(run));
  assert.match(
    run.out,
    new RegExp(
      `^connectors/postgres\\.json: ${name} \\(io\\.debezium\\.connector\\.postgresql\\.PostgresConnector\\)`,
      "m",
    ),
  );
  assert.match(run.out, /✔ valid \(\d+ settings checked/, shown(run));
  assert.match(run.out, /--dry-run: the config is valid; nothing created/);
  assert.deepEqual(await connectorNames(), before);
  const liveAfter = await rest<Record<string, string>>(
    "GET",
    `/connectors/${name}/config`,
    undefined,
    connectUrl,
  );
  assert.deepEqual(liveAfter, liveBefore, "the stack's own connector was not touched");
  assert.doesNotMatch(run.out + run.err, new RegExp(`\\b${vars.SHADOWDB_DBZ_PASSWORD}\\b`));

  // Re-applying the stack's own config would change nothing either way: a fresh name shows that
  // --dry-run creates nothing.
  const prefix = `test_dry_${suffix}`;
  connectors.add(`shadowdb-${prefix}`);
  prefixes.add(prefix);
  const fresh = await cli([
    ...["apply", "--connect-url", connectUrl, "--file", "postgres", "--dry-run"],
    ...["--set", `SHADOWDB_PG_TOPIC_PREFIX=${prefix}`],
  ]);
  assert.equal(fresh.code, 0, shown(fresh));
  assert.match(fresh.out, /✔ valid/, shown(fresh));
  assert.equal((await rest("GET", `/connectors/shadowdb-${prefix}`, undefined, connectUrl)).status, 404);
  assert.deepEqual(await connectorNames(), before);
});

test("connectors/mysql.json passes shadowdb check's rules and is a config Connect's MySQL plugin accepts", {
  timeout: 120_000,
}, async () => {
  const spec = JSON.parse(readFileSync("connectors/mysql.json", "utf8")) as {
    config: Record<string, string>;
  };
  assert.equal(spec.config["connector.class"], "io.debezium.connector.mysql.MySqlConnector");
  for (const apply of [
    { transactional: "table" as const, transactionTopic: undefined },
    { transactional: "source" as const, transactionTopic: "p.transaction" },
  ]) {
    const verdicts = judgeConnector({
      engine: sourceEngine(spec.config["connector.class"]),
      shadowdb: {
        apply: { ...apply, batchSize: 1, transactionTimeoutMs: 1000, maxHeldBytes: 1 },
        decode: { maxRecordBytes: 1, binaryHandlingMode: "bytes" },
        schema: { follow: "safe" },
        tables: [],
      },
      settings: { ...spec.config, "topic.prefix": "p" },
    });
    assert.deepEqual(
      verdicts.filter((v) => v.status !== "ok").map((v) => v.setting),
      [],
      apply.transactional,
    );
  }
  // No MySQL server here: the stack's MariaDB stands in. Debezium's MySQL connector checks the
  // settings and then logs in to the server (MariaDB speaks the MySQL protocol), so the file is
  // validated as a whole, not only its shape; what it cannot show is the capture of a real MySQL.
  const run = await cli(["apply", "--connect-url", connectUrl, "--file", "mysql", "--dry-run"]);
  assert.match(
    run.out,
    /^connectors\/mysql\.json: shadowdb-\S+ \(io\.debezium\.connector\.mysql\.MySqlConnector\)/m,
    shown(run),
  );
  assert.equal(run.code, 0, shown(run));
  // The login is real: a wrong password is an error Connect reports on database.hostname.
  const password = `wrong-${suffix}`;
  const refused = await cli([
    ...["apply", "--connect-url", connectUrl, "--file", "mysql", "--dry-run"],
    ...["--set", `SHADOWDB_DBZ_PASSWORD=${password}`],
  ]);
  assert.equal(refused.code, 1, shown(refused));
  assert.match(refused.out, /^ {4}database\.hostname = \S+:\n {6}.*Access denied/m, shown(refused));
  assert.doesNotMatch(refused.out + refused.err, new RegExp(password));
});

test("apply creates a connector, updates it, and refuses files Connect rejects without touching anything", {
  timeout: 300_000,
}, async () => {
  const prefix = `test_apply_${suffix}`;
  const name = `shadowdb-${prefix}`;
  prefixes.add(prefix);
  probeTable = `public.apply_probe_${suffix}`;
  await withProd((client) =>
    client.query(
      `CREATE TABLE ${probeTable} (id int PRIMARY KEY, v text); INSERT INTO ${probeTable} VALUES (1, 'one')`,
    ),
  );
  // The shipped file, changed only where a second connector on the stack's server must differ:
  // the stack's publication (creating one needs a superuser), and only the probe table.
  const good = variant("good", (config) => {
    config["publication.name"] = pgPublication;
    config["table.include.list"] = probeTable!;
  });
  const set = ["--set", `SHADOWDB_PG_TOPIC_PREFIX=${prefix}`];

  connectors.add(name);
  const created = await cli(["apply", "--connect-url", connectUrl, "--file", good.file, ...set]);
  assert.equal(created.code, 0, shown(created));
  assert.match(created.out, new RegExp(`✔ ${name}: created; RUNNING, task 0 RUNNING`), shown(created));
  const status = await rest<{ connector: { state: string } }>(
    "GET",
    `/connectors/${name}/status`,
    undefined,
    connectUrl,
  );
  assert.equal(status.json.connector.state, "RUNNING");
  await waitForTopic(kafkaClient(env.SHADOWDB_KAFKA_BROKERS), `${prefix}.${probeTable}`);

  const changed = variant("changed", (config) => {
    config["publication.name"] = pgPublication;
    config["table.include.list"] = probeTable!;
    config["heartbeat.interval.ms"] = "2000";
  });
  const updated = await cli(["apply", "--connect-url", connectUrl, "--file", changed.file, ...set]);
  assert.equal(updated.code, 0, shown(updated));
  assert.match(
    updated.out,
    new RegExp(`✔ ${name}: updated \\(heartbeat\\.interval\\.ms\\); RUNNING`),
    shown(updated),
  );
  const config = await rest<Record<string, string>>(
    "GET",
    `/connectors/${name}/config`,
    undefined,
    connectUrl,
  );
  assert.equal(config.json["heartbeat.interval.ms"], "2000");

  const again = await cli(["apply", "--connect-url", connectUrl, "--file", changed.file, ...set]);
  assert.equal(again.code, 0, shown(again));
  assert.match(again.out, new RegExp(`✔ ${name}: unchanged; RUNNING`), shown(again));

  // Three files: a valid update of the running connector, and two new connectors Connect rejects.
  const badPrefix = `test_apply_bad_${suffix}`;
  prefixes.add(badPrefix);
  const update = variant("update", (config) => {
    config["publication.name"] = pgPublication;
    config["table.include.list"] = probeTable!;
    config["heartbeat.interval.ms"] = "3000";
  });
  const badMode = variant("bad-mode", (config) => {
    config["topic.prefix"] = badPrefix;
    config["snapshot.mode"] = "sometimes";
  });
  badMode.spec.name = `shadowdb-${badPrefix}`;
  writeFileSync(badMode.file, JSON.stringify(badMode.spec));
  const noHost = variant("no-host", (config) => {
    config["topic.prefix"] = `${badPrefix}_2`;
    delete config["database.hostname"];
  });
  noHost.spec.name = `shadowdb-${badPrefix}_2`;
  writeFileSync(noHost.file, JSON.stringify(noHost.spec));
  connectors.add(badMode.spec.name).add(noHost.spec.name);
  prefixes.add(`${badPrefix}_2`);
  const before = await connectorNames();
  const password = `pw-${suffix}-secret`;
  const rejected = await cli([
    "apply",
    "--connect-url",
    connectUrl,
    ...["--file", update.file, "--file", badMode.file, "--file", noHost.file],
    ...set,
    ...["--set", `SHADOWDB_DBZ_PASSWORD=${password}`],
  ]);
  assert.equal(rejected.code, 1, shown(rejected));
  assert.match(rejected.out, /^ {4}snapshot\.mode = sometimes:\n {6}\S/m, shown(rejected));
  assert.match(rejected.out, /^ {4}database\.hostname = \(not set\):\n {6}\S/m, shown(rejected));
  assert.match(rejected.out, /nothing created or updated: Connect rejected a config/);
  assert.doesNotMatch(rejected.out + rejected.err, new RegExp(password), "the password was printed");
  assert.deepEqual(await connectorNames(), before, "a connector was created");
  for (const missing of [badMode.spec.name, noHost.spec.name]) {
    assert.equal((await rest("GET", `/connectors/${missing}`, undefined, connectUrl)).status, 404, missing);
  }
  const unchanged = await rest<Record<string, string>>(
    "GET",
    `/connectors/${name}/config`,
    undefined,
    connectUrl,
  );
  assert.equal(unchanged.json["heartbeat.interval.ms"], "2000", "the valid file was applied anyway");
});
