// biome-ignore-all lint/suspicious/noTemplateCurlyInString: configs under test use ${NAME} references
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { loadConfig, parseConfig } from "../../src/config/index.ts";
import { isShadowdbError } from "../../src/errors.ts";

const minimal = `
kafka: { brokers: "a:1", groupId: g }
target: { dialect: postgres, url: "postgres://h/shadow" }
tables: [{ topic: a, table: public.a }]
http: { port: 0 }
`;

let dir = "";
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "shadowdb-config-"));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

function rejection(code: "CONFIG_UNREADABLE" | "CONFIG_INVALID" | "CONFIG_ENV_MISSING") {
  return (error: unknown) => {
    assert.ok(isShadowdbError(error, code), `expected ${code}, got ${String(error)}`);
    return true;
  };
}

function messageOf(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    assert.ok(isShadowdbError(error), String(error));
    return error.message;
  }
  assert.fail("expected a ShadowdbError");
}

test("loadConfig reads and validates a file", async () => {
  const path = join(dir, "ok.yaml");
  await writeFile(path, minimal);
  const config = await loadConfig(path, {});
  assert.equal(config.tables[0]?.table, "public.a");
});

test("an unreadable file is CONFIG_UNREADABLE naming the path and the OS reason", async () => {
  const path = join(dir, "absent.yaml");
  await assert.rejects(loadConfig(path, {}), (error: unknown) => {
    rejection("CONFIG_UNREADABLE")(error);
    assert.match(
      (error as Error).message,
      new RegExp(`^${path.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}: cannot read the config file: ENOENT`),
    );
    return true;
  });
  await assert.rejects(loadConfig(dir, {}), (error: unknown) => {
    rejection("CONFIG_UNREADABLE")(error);
    assert.match((error as Error).message, /EISDIR/);
    return true;
  });
});

test("a YAML syntax error is CONFIG_UNREADABLE with line and column, without quoting the line", () => {
  const text = 'kafka:\n  brokers: "a:1"\n   groupId: x\n';
  assert.throws(() => parseConfig(text, "bad.yaml", {}), rejection("CONFIG_UNREADABLE"));
  const message = messageOf(() => parseConfig(text, "bad.yaml", {}));
  assert.match(message, /^bad\.yaml: not valid YAML:\n {2}line 3, column \d+: /);
  const secretLine = messageOf(() => parseConfig("kafka:\n  sasl: { password: hunter2: x }\n", "s.yaml", {}));
  assert.match(secretLine, /line 2, column \d+/);
  assert.doesNotMatch(secretLine, /hunter2/);
});

test("a YAML error lists at most five findings", () => {
  const message = messageOf(() => parseConfig("a: { b: ${X} }\nc: [\nd: {\n", "f.yaml", {}));
  const findings = message.split("\n").slice(1);
  assert.equal(findings.length, 6);
  assert.match(findings[5] ?? "", /^ {2}… and \d+ more$/);
});

test("duplicate keys, unknown tags and several documents are YAML errors too", () => {
  assert.match(
    messageOf(() => parseConfig(`${minimal}http: { port: 1 }\n`, "d.yaml", {})),
    /Map keys must be unique/,
  );
  assert.match(
    messageOf(() => parseConfig(`${minimal}log: !env LEVEL\n`, "t.yaml", {})),
    /Unresolved tag/,
  );
  assert.match(
    messageOf(() => parseConfig(`${minimal}---\nkafka: {}\n`, "m.yaml", {})),
    /more than one YAML document/,
  );
});

test("validation failure is one CONFIG_INVALID naming the source and counting the problems", () => {
  const text = minimal.replace("public.a", "orders").replace("dialect: postgres", "dialect: oracle");
  assert.throws(() => parseConfig(text, "c.yaml", {}), rejection("CONFIG_INVALID"));
  const message = messageOf(() => parseConfig(text, "c.yaml", {}));
  assert.equal(
    message,
    [
      "c.yaml: invalid config (2 problems):",
      '  target.dialect: expected one of postgres, mysql, got "oracle"',
      '  tables[0].table: expected "schema.table" (PostgreSQL) or "database.table" (MySQL) (two identifiers), got "orders"',
    ].join("\n"),
  );
  assert.match(
    messageOf(() => parseConfig("", "e.yaml", {})),
    /^e\.yaml: invalid config \(1 problem\):\n {2}\(top level\): expected a mapping, got null$/,
  );
});

test("an unset variable is CONFIG_ENV_MISSING naming the variable and the key that uses it", () => {
  const text = minimal.replace(
    "groupId: g",
    'groupId: g, sasl: { mechanism: plain, username: u, password: "${KAFKA_PW}" }',
  );
  assert.throws(() => parseConfig(text, "v.yaml", {}), rejection("CONFIG_ENV_MISSING"));
  assert.match(
    messageOf(() => parseConfig(text, "v.yaml", {})),
    /^v\.yaml: .*\n {2}kafka\.sasl\.password: KAFKA_PW is not set$/,
  );
  assert.equal(parseConfig(text, "v.yaml", { KAFKA_PW: "pw" }).kafka.sasl?.password, "pw");
});

test("numbers and booleans may come from variables", () => {
  // Inside a flow mapping `{ … }` a reference must be quoted: `{` would start a nested mapping.
  const text = minimal
    .replace("port: 0", 'port: "${PORT:-0}"')
    .replace("groupId: g", 'groupId: g, fromBeginning: "${FROM:-false}"');
  const config = parseConfig(text, "n.yaml", { PORT: "0" });
  assert.equal(config.http.port, 0);
  assert.equal(config.kafka.fromBeginning, false);
});

test("kafka.ssl files are read relative to the config file; PEM text stays as written", async () => {
  const pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
  await writeFile(join(dir, "ca.pem"), pem);
  const path = join(dir, "tls.yaml");
  const inline = JSON.stringify("-----BEGIN CERTIFICATE-----\\nX\\n-----END CERTIFICATE-----");
  await writeFile(
    path,
    minimal.replace("groupId: g", `groupId: g, ssl: { ca: ca.pem, cert: ${inline}, key: "\${KEY}" }`),
  );
  const config = await loadConfig(path, {
    KEY: "-----BEGIN PRIVATE KEY-----\nsecret-key-body\n-----END PRIVATE KEY-----",
  });
  assert.equal(config.kafka.ssl?.ca, pem);
  assert.match(config.kafka.ssl?.cert ?? "", /^-----BEGIN CERTIFICATE-----/);
  assert.match(config.kafka.ssl?.key ?? "", /secret-key-body/);
});

test("a missing kafka.ssl file is CONFIG_UNREADABLE; a non-PEM file or pasted garbage CONFIG_INVALID", async () => {
  const path = join(dir, "tls-missing.yaml");
  await writeFile(path, minimal.replace("groupId: g", "groupId: g, ssl: { ca: nowhere.pem }"));
  await assert.rejects(loadConfig(path, {}), (error: unknown) => {
    rejection("CONFIG_UNREADABLE")(error);
    assert.match((error as Error).message, /kafka\.ssl\.ca: cannot read .*nowhere\.pem: ENOENT/);
    return true;
  });
  await writeFile(join(dir, "plain.txt"), "not a certificate");
  await writeFile(path, minimal.replace("groupId: g", "groupId: g, ssl: { ca: plain.txt }"));
  await assert.rejects(loadConfig(path, {}), rejection("CONFIG_INVALID"));
  await writeFile(path, minimal.replace("groupId: g", 'groupId: g, ssl: { cert: ca.pem, key: "${KEY}" }'));
  await assert.rejects(
    loadConfig(path, { KEY: "MIIEv-private\nkey-body-without-header" }),
    (error: unknown) => {
      rejection("CONFIG_INVALID")(error);
      assert.doesNotMatch((error as Error).message, /private|key-body/);
      return true;
    },
  );
});
