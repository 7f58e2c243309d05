// biome-ignore-all lint/suspicious/noTemplateCurlyInString: configs under test use ${NAME} references
import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { test } from "node:test";
import pino from "pino";
import { stringify } from "yaml";
import { parseConfig, redactOptions, redactPaths, redactUrl, secretPaths } from "../../src/config/index.ts";
import { isShadowdbError } from "../../src/errors.ts";

const secrets = {
  password: "hunter2-sasl-password",
  token: "admin-token-0123456789",
  maskingKey: "masking-key-0123456789",
  dbPassword: "db-pass-w0rd",
};

function messageOf(text: string, env: Record<string, string> = {}): string {
  try {
    parseConfig(text, "s.yaml", env);
  } catch (error) {
    assert.ok(isShadowdbError(error), String(error));
    return error.message;
  }
  assert.fail("expected a ShadowdbError");
}

function assertNoSecret(message: string): void {
  for (const secret of Object.values(secrets))
    assert.ok(!message.includes(secret), `${secret} leaked:\n${message}`);
}

test("redactUrl hides the password and password-like parameters, nothing else", () => {
  assert.equal(redactUrl("postgresql://app:s3cret@db:5432/shadow"), "postgresql://app:***@db:5432/shadow");
  assert.equal(redactUrl("mysql://root@127.0.0.1:3306/shadow"), "mysql://root@127.0.0.1:3306/shadow");
  assert.equal(
    redactUrl("postgres://h/db?sslmode=require&password=x"),
    "postgres://h/db?sslmode=require&password=***",
  );
  assert.equal(redactUrl("mysql://u:p%40ss@h/db"), "mysql://u:***@h/db");
  // Not a URL: everything before the last @ may be a password.
  assert.equal(redactUrl("postgres://u:pa ss@h:99999/db"), "***@h:99999/db");
  assert.equal(redactUrl("plain text"), "plain text");
});

test("every secret key is a pino redaction path, also under `config`", () => {
  for (const path of [
    "kafka.sasl.password",
    "kafka.ssl.key",
    "http.adminToken",
    "masking.key",
    "target.url",
  ]) {
    assert.ok((secretPaths as readonly string[]).includes(path), path);
    assert.ok(redactPaths.includes(path) && redactPaths.includes(`config.${path}`), path);
  }
});

test("pino with redactOptions logs neither secrets nor the URL's password", () => {
  const config = parseConfig(
    stringify({
      kafka: {
        brokers: "a:1",
        groupId: "g",
        sasl: { mechanism: "plain", username: "u", password: secrets.password },
      },
      target: { dialect: "postgres", url: `postgres://app:${secrets.dbPassword}@db/shadow` },
      tables: [{ topic: "a", table: "public.a", columns: { mask: { e: { strategy: "hash" } } } }],
      masking: { key: secrets.maskingKey },
      http: { adminToken: secrets.token },
    }),
    "s.yaml",
    {},
  );
  let output = "";
  const sink = new Writable({
    write(chunk, _encoding, done) {
      output += String(chunk);
      done();
    },
  });
  const log = pino({ redact: redactOptions }, sink);
  log.info({ config }, "started");
  log.info(config, "again at the root");
  assertNoSecret(output);
  assert.match(output, /postgres:\/\/app:\*\*\*@db\/shadow/);
  assert.match(output, /"password":"\[Redacted\]"/);
});

test("config errors never show a secret, wherever the mistake is", () => {
  const env = { PW: secrets.password, TOKEN: secrets.token, MASK: secrets.maskingKey };
  const base = {
    kafka: { brokers: "a:1", groupId: "g" },
    target: { dialect: "postgres", url: `mysql://app:${secrets.dbPassword}@db/shadow` },
    tables: [{ topic: "a", table: "public.a", columns: { mask: { e: { strategy: "hash" } } } }],
  };
  const cases: Record<string, unknown>[] = [
    {
      ...base,
      http: { adminToken: secrets.token.slice(0, 10) },
      masking: { key: secrets.maskingKey.slice(0, 12) },
    },
    { ...base, kafka: { brokers: "a:1", groupId: "g", sasl: `u:${secrets.password}` } },
    {
      ...base,
      kafka: {
        brokers: "a:1",
        groupId: "g",
        sasl: { mechanism: "x", username: "u", pasword: secrets.password },
      },
    },
    { ...base, masking: secrets.maskingKey, http: { adminToken: 1234567890123456 } },
    { ...base, http: { adminToken: [secrets.token] }, masking: { key: { value: secrets.maskingKey } } },
    { ...base, kafka: { brokers: "a:1", groupId: "g", ssl: { key: "-----BEGIN PRIVATE KEY-----x" } } },
  ];
  for (const config of cases) {
    const message = messageOf(stringify(config), env);
    assertNoSecret(message);
    assert.ok(!message.includes("1234567890123456"));
    assert.ok(!message.includes("PRIVATE KEY"));
  }
  const fromEnv = messageOf(
    stringify({
      ...base,
      kafka: { brokers: "a:1", groupId: "g", sasl: { mechanism: "plain", username: "u", password: "${PW}" } },
      http: { adminToken: "${TOKEN}", port: "x" },
      masking: { key: "${MASK}" },
    }),
    env,
  );
  assert.match(
    fromEnv,
    /target\.url: expected a postgres:\/\/ or postgresql:\/\/ URL for dialect postgres, got "mysql:\/\/app:\*\*\*@db\/shadow"/,
  );
  assertNoSecret(fromEnv);
});

test("a malformed reference inside a secret is located, not quoted", () => {
  const text = stringify({
    kafka: {
      brokers: "a:1",
      groupId: "g",
      sasl: { mechanism: "plain", username: "u", password: `${secrets.password}\${oops` },
    },
  });
  const message = messageOf(text);
  assert.match(message, /kafka\.sasl\.password: the reference at character 22 has no closing \}/);
  assertNoSecret(message);
});
