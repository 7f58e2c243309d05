// biome-ignore-all lint/suspicious/noTemplateCurlyInString: configs under test use ${NAME} references
/** `kafka.schemaRegistry` and `tables[].format`: parsed, checked across keys, secrets kept out of logs. */
import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { test } from "node:test";
import pino from "pino";
import { parseConfig, redactOptions } from "../../src/config/index.ts";
import { isShadowdbError } from "../../src/errors.ts";

const base = (registry: string, format = "") =>
  [
    "kafka:",
    "  brokers: k:9092",
    "  groupId: g",
    registry,
    "target: { dialect: postgres, url: postgres://db/shadow }",
    "tables:",
    "  - topic: t",
    "    table: public.t",
    format,
    "http: { port: 0 }",
  ].join("\n");

function problems(text: string, env: Record<string, string> = {}): string {
  try {
    parseConfig(text, "s.yaml", env);
  } catch (error) {
    assert.ok(isShadowdbError(error, "CONFIG_INVALID"), String(error));
    return error.message;
  }
  return assert.fail("expected CONFIG_INVALID");
}

test("a schema registry with basic auth, TLS and a timeout; secrets from the environment", () => {
  const config = parseConfig(
    base(
      [
        "  schemaRegistry:",
        "    url: ${REGISTRY_URL}",
        "    username: shadowdb",
        "    password: ${REGISTRY_PASSWORD}",
        "    tls: { ca: ca.pem }",
        '    timeoutMs: "5000"',
      ].join("\n"),
      "    format: avro",
    ),
    "s.yaml",
    { REGISTRY_URL: "https://registry:8081/apis/ccompat/v7", REGISTRY_PASSWORD: "registry-secret-1" },
  );
  assert.deepEqual(config.kafka.schemaRegistry, {
    url: "https://registry:8081/apis/ccompat/v7",
    username: "shadowdb",
    password: "registry-secret-1",
    tls: { ca: "ca.pem" },
    timeoutMs: 5000,
  });
  assert.equal(config.tables[0]!.format, "avro");
  assert.equal(parseConfig(base(""), "s.yaml").kafka.schemaRegistry, undefined);
  assert.equal(parseConfig(base(""), "s.yaml").tables[0]!.format, undefined);

  const lines: string[] = [];
  const sink = new Writable({
    write: (chunk, _, done) => {
      lines.push(String(chunk));
      done();
    },
  });
  const logger = pino({ redact: redactOptions }, sink);
  const withToken = parseConfig(
    base("  schemaRegistry: { url: 'https://u:url-secret-2@registry', token: registry-token-3 }"),
    "s.yaml",
  );
  logger.info({ config }, "loaded");
  logger.info({ config: withToken }, "loaded");
  const logged = lines.join("");
  for (const secret of ["registry-secret-1", "url-secret-2", "registry-token-3"])
    assert.ok(!logged.includes(secret), `${secret} leaked: ${logged}`);
  assert.match(logged, /https:\/\/u:\*\*\*@registry/);
});

test("credentials go together, one kind at a time; the URL is http(s); avro needs the registry", () => {
  assert.match(
    problems(base("  schemaRegistry: { url: 'http://r', username: u }")),
    /kafka\.schemaRegistry\.password: required with username/,
  );
  assert.match(
    problems(base("  schemaRegistry: { url: 'http://r', username: u, password: p, token: t }")),
    /kafka\.schemaRegistry\.token: give either a token or username and password/,
  );
  assert.match(
    problems(base("  schemaRegistry: { url: 'http://r', tls: { cert: c.pem } }")),
    /kafka\.schemaRegistry\.tls\.key: required with cert/,
  );
  assert.match(problems(base("  schemaRegistry: { url: 'ftp://r' }")), /kafka\.schemaRegistry\.url/);
  assert.match(problems(base("  schemaRegistry: { url: 'http://r', timeoutMs: 5 }")), /timeoutMs/);
  assert.match(
    problems(base("", "    format: avro")),
    /tables\[0\]\.format: avro needs kafka\.schemaRegistry/,
  );
  assert.match(problems(base("", "    format: protobuf")), /tables\[0\]\.format/);
});
