import assert from "node:assert/strict";
import { test } from "node:test";
import { stringify } from "yaml";
import { type Config, parseConfig } from "../../src/config/index.ts";
import { isShadowdbError } from "../../src/errors.ts";

const token = "0123456789abcdef-token";

/** The smallest valid config, with `changes` merged in per top-level key. */
function configWith(changes: Record<string, unknown> = {}): string {
  return stringify({
    kafka: { brokers: "127.0.0.1:19092", groupId: "g" },
    target: { dialect: "postgres", url: "postgresql://postgres@127.0.0.1:5432/shadow" },
    tables: [{ topic: "pgprod.public.orders", table: "public.orders" }],
    http: { adminToken: token },
    ...changes,
  });
}

const parse = (changes: Record<string, unknown> = {}): Config =>
  parseConfig(configWith(changes), "t.yaml", {});

/** The CONFIG_INVALID problem lines, without the heading. */
function problems(changes: Record<string, unknown>): string[] {
  try {
    parse(changes);
  } catch (error) {
    assert.ok(isShadowdbError(error, "CONFIG_INVALID"), String(error));
    return error.message
      .split("\n")
      .slice(1)
      .map((line) => line.trim());
  }
  assert.fail("expected CONFIG_INVALID");
}

function assertProblem(changes: Record<string, unknown>, expected: string | RegExp): void {
  const lines = problems(changes);
  const found = lines.some((line) =>
    typeof expected === "string" ? line === expected : expected.test(line),
  );
  assert.ok(found, `no line matches ${expected} in:\n${lines.join("\n")}`);
}

test("a minimal config gets every default", () => {
  const config = parse();
  assert.deepEqual(config.kafka, {
    brokers: ["127.0.0.1:19092"],
    groupId: "g",
    clientId: "shadowdb",
    fromBeginning: true,
    sessionTimeoutMs: 30000,
    topicRefreshMs: 30000,
    fetchMaxBytes: 16777216,
  });
  assert.deepEqual(config.overlay, { enabled: true, idHeadroom: 1_000_000_000, idCheckMs: 60_000 });
  assert.deepEqual(config.apply, {
    batchSize: 5000,
    transactional: "table",
    transactionTimeoutMs: 60_000,
    maxHeldBytes: 64 * 1024 * 1024,
  });
  assert.equal(config.onError, "dlq");
  assert.deepEqual(config.deadLetter, { kind: "topic", topic: "g.dlq" });
  assert.deepEqual(config.masking, {});
  assert.deepEqual(config.decode, { maxRecordBytes: 16 * 1024 * 1024, binaryHandlingMode: "bytes" });
  assert.deepEqual(config.http, {
    port: 8080,
    host: "0.0.0.0",
    adminToken: token,
    readyLagMs: 30_000,
    stalledAfterMs: 300_000,
  });
  assert.deepEqual(config.shutdown, { timeoutMs: 10_000 });
  assert.deepEqual(config.log, { level: "info" });
  assert.deepEqual(config.tables[0], {
    topic: "pgprod.public.orders",
    table: "public.orders",
    envelope: "debezium",
    columns: { exclude: [], rename: {}, mask: {} },
    diff: { ignore: [] },
  });
});

test("kafka.brokers: a comma-separated string or a list, normalised to a list", () => {
  assert.deepEqual(parse({ kafka: { brokers: "a:1, b:2,,", groupId: "g" } }).kafka.brokers, ["a:1", "b:2"]);
  assert.deepEqual(parse({ kafka: { brokers: ["a:1", "[::1]:9092"], groupId: "g" } }).kafka.brokers, [
    "a:1",
    "[::1]:9092",
  ]);
  assertProblem(
    { kafka: { brokers: 42, groupId: "g" } },
    'kafka.brokers: expected "host:port,host:port" or a list of "host:port", got 42',
  );
  assertProblem(
    { kafka: { brokers: "a:1,b", groupId: "g" } },
    'kafka.brokers[1]: expected "host:port", got "b"',
  );
  assertProblem(
    { kafka: { brokers: "a:70000", groupId: "g" } },
    /^kafka\.brokers\[0\]: expected "host:port" with a port up to 65535/,
  );
  assertProblem(
    { kafka: { brokers: "", groupId: "g" } },
    "kafka.brokers: expected at least 1 entry, got an empty list",
  );
});

test("kafka.groupId is required and kafka.clientId defaults to shadowdb", () => {
  assertProblem({ kafka: { brokers: "a:1" } }, "kafka.groupId: expected a string, but the key is missing");
  assertProblem(
    { kafka: { brokers: "a:1", groupId: "" } },
    'kafka.groupId: expected a non-empty string, got ""',
  );
  assert.equal(parse({ kafka: { brokers: "a:1", groupId: "g", clientId: "c" } }).kafka.clientId, "c");
});

test("kafka.ssl: true, false or a mapping; rejectUnauthorized defaults to true", () => {
  const ssl = (value: unknown) => parse({ kafka: { brokers: "a:1", groupId: "g", ssl: value } }).kafka.ssl;
  assert.equal(ssl(false), undefined);
  assert.deepEqual(ssl(true), { rejectUnauthorized: true });
  assert.deepEqual(ssl({ ca: "ca.pem", rejectUnauthorized: false }), {
    ca: "ca.pem",
    rejectUnauthorized: false,
  });
  assert.deepEqual(ssl({ cert: "c.pem", key: "k.pem" }), {
    cert: "c.pem",
    key: "k.pem",
    rejectUnauthorized: true,
  });
  assertProblem(
    { kafka: { brokers: "a:1", groupId: "g", ssl: { cert: "c.pem" } } },
    "kafka.ssl.key: required with cert: a client certificate and its key go together",
  );
  assertProblem(
    { kafka: { brokers: "a:1", groupId: "g", ssl: 3 } },
    /^kafka\.ssl: expected true, false or a mapping \(ca, cert, key, rejectUnauthorized\)/,
  );
});

test("kafka.sasl: a mechanism (case-insensitive), a username and a password", () => {
  const sasl = { mechanism: "SCRAM-SHA-512", username: "u", password: "p" };
  assert.deepEqual(parse({ kafka: { brokers: "a:1", groupId: "g", sasl } }).kafka.sasl, {
    ...sasl,
    mechanism: "scram-sha-512",
  });
  assertProblem(
    { kafka: { brokers: "a:1", groupId: "g", sasl: { ...sasl, mechanism: "gssapi" } } },
    'kafka.sasl.mechanism: expected one of plain, scram-sha-256, scram-sha-512, got "gssapi"',
  );
  assertProblem(
    { kafka: { brokers: "a:1", groupId: "g", sasl: { mechanism: "plain", username: "u" } } },
    "kafka.sasl.password: expected a string, but the key is missing",
  );
});

test("kafka.fromBeginning defaults to true and accepts the strings true and false", () => {
  assert.equal(
    parse({ kafka: { brokers: "a:1", groupId: "g", fromBeginning: "false" } }).kafka.fromBeginning,
    false,
  );
  assertProblem(
    { kafka: { brokers: "a:1", groupId: "g", fromBeginning: "yes" } },
    'kafka.fromBeginning: expected true or false, got "yes"',
  );
});

test("target.dialect: postgres or mysql, mariadb being an alias of mysql", () => {
  const target = (dialect: string, url: string) => parse({ target: { dialect, url } }).target;
  assert.deepEqual(target("mariadb", "mariadb://root@h/shadow"), {
    dialect: "mysql",
    url: "mariadb://root@h/shadow",
  });
  assert.equal(target("mysql", "mysql://root@h/shadow").dialect, "mysql");
  assert.equal(target("postgres", "postgres://h/shadow").dialect, "postgres");
  assertProblem(
    { target: { dialect: "oracle", url: "postgres://h/db" } },
    'target.dialect: expected one of postgres, mysql, got "oracle"',
  );
});

test("target.url: its scheme must suit the dialect", () => {
  assertProblem(
    { target: { dialect: "postgres", url: "mysql://root@h/shadow" } },
    'target.url: expected a postgres:// or postgresql:// URL for dialect postgres, got "mysql://root@h/shadow"',
  );
  assertProblem(
    { target: { dialect: "mysql", url: "postgresql://h/shadow" } },
    'target.url: expected a mysql:// or mariadb:// URL for dialect mysql, got "postgresql://h/shadow"',
  );
  assertProblem(
    { target: { dialect: "postgres", url: "not a url" } },
    /^target\.url: expected a postgres:\/\//,
  );
  assertProblem({ target: { dialect: "postgres" } }, "target.url: expected a string, but the key is missing");
});

test("tables: at least one entry", () => {
  assertProblem({ tables: [] }, "tables: expected at least 1 entry, got an empty list");
  assertProblem({ tables: undefined }, "tables: expected a list, but the key is missing");
});

test("tables[i]: exactly one of topic or topicPattern", () => {
  assertProblem(
    { tables: [{ table: "public.t" }] },
    "tables[0]: needs exactly one of topic (an exact topic name) or topicPattern (a regular expression), found neither",
  );
  assertProblem(
    { tables: [{ topic: "a", topicPattern: "a", table: "public.t" }] },
    "tables[0]: needs exactly one of topic (an exact topic name) or topicPattern (a regular expression), found both",
  );
  assertProblem(
    { tables: [{ topic: "bad topic", table: "public.t" }] },
    /^tables\[0\]\.topic: expected a Kafka topic name: .*, got "bad topic"$/,
  );
});

test("tables[i]: the same exact topic may not be mapped twice", () => {
  assertProblem(
    {
      tables: [
        { topic: "a", table: "public.a" },
        { topic: "b", table: "public.b" },
        { topic: "a", table: "public.c" },
      ],
    },
    'tables[2].topic: "a" is already mapped by tables[0]',
  );
});

test("tables[i].table: two identifiers, worded for the dialect", () => {
  const tables = [
    { topic: "a", table: "public.a" },
    { topic: "b", table: "public.b" },
    { topic: "c", table: "orders" },
  ];
  assertProblem({ tables }, 'tables[2].table: expected "schema.table" (two identifiers), got "orders"');
  assertProblem(
    { target: { dialect: "mysql", url: "mysql://root@h/shadow" }, tables: [{ topic: "c", table: "a.b.c" }] },
    'tables[0].table: expected "database.table" (two identifiers), got "a.b.c"',
  );
  for (const bad of [
    "public.order-items",
    "public.1st",
    "public.",
    `public.${"x".repeat(64)}`,
    'public."t"',
  ]) {
    assertProblem(
      { tables: [{ topic: "c", table: bad }] },
      /^tables\[0\]\.table: expected "schema\.table" whose parts are identifiers \(a letter or _, then letters, digits, _ or \$; at most 63 characters\), got /,
    );
  }
  const longest = `_s.T_$9${"x".repeat(59)}`;
  assert.equal(parse({ tables: [{ topic: "c", table: longest }] }).tables[0]?.table, longest);
});

test("tables[i].topicPattern: a regular expression whose groups the table template uses", () => {
  assertProblem(
    { tables: [{ topicPattern: "(", table: "public.$1" }] },
    'tables[0].topicPattern: expected a regular expression (Unterminated group), got "("',
  );
  assertProblem(
    { tables: [{ topicPattern: "^p\\.(.+)$", table: "public.$2" }] },
    "tables[0].table: $2 names group 2, but topicPattern has one group ($1)",
  );
  assertProblem(
    { tables: [{ topicPattern: "^p\\..+$", table: "public.$1" }] },
    "tables[0].table: $1 names group 1, but topicPattern has no groups",
  );
  assertProblem(
    { tables: [{ topicPattern: "^p\\.(.+)$", table: "public.t-$1" }] },
    /^tables\[0\]\.table: expected "schema\.table" \(two identifiers; \$1, \$2… stand for topicPattern's groups\), got "public\.t-\$1"$/,
  );
  assertProblem(
    { tables: [{ topicPattern: "^p\\.(.+)$", table: "orders" }] },
    'tables[0].table: expected "schema.table" (two identifiers), got "orders"',
  );
  // A group may carry "schema.table" whole; resolveTable checks the result per topic.
  assert.equal(parse({ tables: [{ topicPattern: "^p\\.(.+)$", table: "$1" }] }).tables[0]?.table, "$1");
});

test("tables[i].key, columns and diff: column names, and rules that keep them consistent", () => {
  const entry = (extra: Record<string, unknown>) => ({
    tables: [{ topic: "a", table: "public.a", ...extra }],
  });
  const columns = {
    exclude: ["secret_notes"],
    rename: { fullname: "full_name" },
    mask: {
      email: { strategy: "hash" },
      phone: { strategy: "redact" },
      born: { strategy: "null" },
      country: { strategy: "constant", value: "XX" },
    },
  };
  const config = parse({
    ...entry({ key: ["id"], columns, diff: { ignore: ["updated_at"] } }),
    masking: { key: "k".repeat(16) },
  });
  assert.deepEqual(config.tables[0], {
    topic: "a",
    table: "public.a",
    key: ["id"],
    envelope: "debezium",
    columns,
    diff: { ignore: ["updated_at"] },
  });
  assertProblem(entry({ key: [] }), "tables[0].key: expected at least 1 entry, got an empty list");
  assertProblem(entry({ key: ["id", "id"] }), 'tables[0].key[1]: "id" is listed twice');
  assertProblem(
    entry({ key: ["bad-name"] }),
    /^tables\[0\]\.key\[0\]: expected a column name \(.*\), got "bad-name"$/,
  );
  assertProblem(
    entry({ diff: { ignore: ["1x"] } }),
    /^tables\[0\]\.diff\.ignore\[0\]: expected a column name/,
  );
  assertProblem(
    entry({ key: ["id"], columns: { exclude: ["id"] } }),
    'tables[0].key[0]: "id" is also in columns.exclude; a key column must stay',
  );
  assertProblem(
    entry({ columns: { exclude: ["a"], rename: { a: "b" } } }),
    'tables[0].columns.rename.a: "a" is also in columns.exclude; an excluded column cannot be renamed',
  );
  assertProblem(
    entry({ columns: { rename: { a: "x", b: "x" } } }),
    'tables[0].columns.rename.b: renames to "x" as "a" does; two columns cannot share a name',
  );
  assertProblem(
    entry({ columns: { rename: { a: "x y" } } }),
    /^tables\[0\]\.columns\.rename\.a: expected a column name/,
  );
  assertProblem(
    entry({ columns: { rename: { "x y": "a" } } }),
    /^tables\[0\]\.columns\.rename\["x y"\]: "x y" is not a column name/,
  );
  assertProblem(
    entry({ columns: { exclude: ["a"], mask: { a: { strategy: "redact" } } } }),
    'tables[0].columns.mask.a: "a" is also in columns.exclude; an excluded column cannot be masked',
  );
  assertProblem(
    entry({ key: ["id"], columns: { mask: { id: { strategy: "null" } } } }),
    'tables[0].columns.mask.id.strategy: "null" on key column "id" would merge distinct rows; only "hash" keeps keys apart',
  );
});

test("columns.mask: a strategy, and a value for constant only", () => {
  const mask = (rules: Record<string, unknown>) => ({
    tables: [{ topic: "a", table: "public.a", columns: { mask: rules } }],
  });
  assertProblem(
    mask({ c: { strategy: "shuffle" } }),
    'tables[0].columns.mask.c.strategy: expected one of hash, null, redact, constant, got "shuffle"',
  );
  assertProblem(
    mask({ c: { strategy: "constant" } }),
    'tables[0].columns.mask.c.value: required with strategy "constant" (the value every row gets)',
  );
  assertProblem(
    mask({ c: { strategy: "redact", value: "x" } }),
    /^tables\[0\]\.columns\.mask\.c\.value: unknown key \(the keys here are: strategy\)$/,
  );
  assertProblem(
    mask({ c: { strategy: "constant", value: [1] } }),
    "tables[0].columns.mask.c.value: expected a string, number or boolean, got a list",
  );
  const config = parse(mask({ c: { strategy: "constant", value: 0 }, d: { strategy: "null" } }));
  assert.deepEqual(config.tables[0]?.columns.mask, {
    c: { strategy: "constant", value: 0 },
    d: { strategy: "null" },
  });
});

test("masking.key is required (and named as the HMAC key) once a column is hashed", () => {
  const hashed = {
    tables: [{ topic: "a", table: "public.a", columns: { mask: { email: { strategy: "hash" } } } }],
  };
  assertProblem(
    hashed,
    'masking.key: required (the HMAC key) because tables[0].columns.mask.email uses strategy "hash"',
  );
  assertProblem(
    { ...hashed, masking: { key: "short" } },
    "masking.key: expected at least 16 characters, got 5 characters (value hidden)",
  );
  assert.equal(parse({ ...hashed, masking: { key: "k".repeat(16) } }).masking.key, "k".repeat(16));
});

test("overlay, apply, decode and log: types, ranges and choices", () => {
  assert.deepEqual(parse({ overlay: { enabled: false, idHeadroom: "5" } }).overlay, {
    enabled: false,
    idHeadroom: 5,
    idCheckMs: 60_000,
  });
  assertProblem({ overlay: { idHeadroom: 0 } }, "overlay.idHeadroom: expected a number of at least 1, got 0");
  assertProblem({ overlay: { idHeadroom: 1.5 } }, "overlay.idHeadroom: expected an integer, got 1.5");
  assertProblem({ apply: { batchSize: "many" } }, 'apply.batchSize: expected an integer, got "many"');
  assert.equal(
    parse({ apply: { transactional: "source", transactionTopic: "p.transaction" } }).apply.transactional,
    "source",
  );
  assertProblem(
    { apply: { transactional: "row" } },
    'apply.transactional: expected one of table, source, got "row"',
  );
  assert.equal(
    parse({ decode: { binaryHandlingMode: "base64-url-safe" } }).decode.binaryHandlingMode,
    "base64-url-safe",
  );
  assertProblem(
    { decode: { binaryHandlingMode: "raw" } },
    'decode.binaryHandlingMode: expected one of bytes, base64, base64-url-safe, hex, got "raw"',
  );
  assertProblem(
    { decode: { maxRecordBytes: -1 } },
    "decode.maxRecordBytes: expected a number of at least 1, got -1",
  );
  assert.equal(parse({ log: { level: "debug" } }).log.level, "debug");
  assertProblem(
    { log: { level: "verbose" } },
    'log.level: expected one of fatal, error, warn, info, debug, trace, silent, got "verbose"',
  );
});

test("a section written with all its keys commented out (YAML null) takes its defaults", () => {
  const config = parseConfig(`${configWith()}overlay:\nmasking:\ndecode:\n`, "t.yaml", {});
  assert.deepEqual(config.overlay, { enabled: true, idHeadroom: 1_000_000_000, idCheckMs: 60_000 });
});

test("onError and deadLetter: a topic (default <groupId>.dlq) or a table", () => {
  assert.equal(parse({ onError: "stop" }).onError, "stop");
  assertProblem({ onError: "ignore" }, 'onError: expected one of dlq, stop, got "ignore"');
  assert.deepEqual(parse({ deadLetter: {} }).deadLetter, { kind: "topic", topic: "g.dlq" });
  assert.deepEqual(parse({ deadLetter: { topic: "dead" } }).deadLetter, { kind: "topic", topic: "dead" });
  assert.deepEqual(parse({ deadLetter: { table: "ops.dead_letters" } }).deadLetter, {
    kind: "table",
    table: { schema: "ops", name: "dead_letters" },
  });
  assertProblem({ deadLetter: { topic: "d", table: "ops.d" } }, "deadLetter: set topic or table, not both");
  assertProblem(
    { deadLetter: { table: "d" } },
    'deadLetter.table: expected "schema.table" (two identifiers), got "d"',
  );
  assertProblem(
    { kafka: { brokers: "a:1", groupId: "my group" } },
    'deadLetter.topic: the default "my group.dlq" (kafka.groupId + ".dlq") is not a valid topic name; set deadLetter.topic',
  );
});

test("apply.transactional: source needs the transaction metadata topic", () => {
  assertProblem(
    { apply: { transactional: "source" } },
    /^apply\.transactionTopic: required with transactional: source: the topic of Debezium's transaction metadata/,
  );
  const config = parse({ apply: { transactional: "source", transactionTopic: "pgprod.transaction" } });
  assert.equal(config.apply.transactionTopic, "pgprod.transaction");
  assertProblem(
    { apply: { transactional: "source", transactionTopic: "bad topic" } },
    /^apply\.transactionTopic: expected /,
  );
});

test("http: port 0 disables it; otherwise an admin token of 16+ characters is required", () => {
  assert.deepEqual(parse({ http: { port: 0 } }).http, {
    port: 0,
    host: "0.0.0.0",
    readyLagMs: 30_000,
    stalledAfterMs: 300_000,
  });
  assert.equal(
    parse({ http: { port: "9090", adminToken: token, host: "127.0.0.1", readyLagMs: 5 } }).http.port,
    9090,
  );
  assertProblem(
    { http: {} },
    /^http\.adminToken: required \(at least 16 characters\) while http\.port is not 0/,
  );
  assertProblem(
    { http: { adminToken: "short" } },
    "http.adminToken: expected at least 16 characters, got 5 characters (value hidden)",
  );
  assertProblem(
    { http: { port: 70000, adminToken: token } },
    "http.port: expected a number of at most 65535, got 70000",
  );
  assertProblem(
    { http: { adminToken: token, readyLagMs: 0 } },
    "http.readyLagMs: expected a number of at least 1, got 0",
  );
});

test("unknown keys are errors that list the keys allowed there", () => {
  assertProblem(
    { kafka: { brokers: "a:1", groupId: "g", brokrs: "b:1" } },
    "kafka.brokrs: unknown key (the keys here are: brokers, groupId, clientId, ssl, sasl, fromBeginning, sessionTimeoutMs, topicRefreshMs, fetchMaxBytes, schemaRegistry)",
  );
  assertProblem(
    { overlays: {} },
    /^overlays: unknown key \(the keys here are: kafka, target, tables, overlay, /,
  );
  assertProblem(
    { tables: [{ topic: "a", table: "public.a", colums: {} }] },
    /^tables\[0\]\.colums: unknown key/,
  );
});

test("one error lists every problem, in the order of the file", () => {
  const lines = problems({
    kafka: { brokers: 1, groupId: "" },
    target: { dialect: "oracle", url: "x://" },
    tables: [{ topic: "a", table: "t" }],
    http: { port: "x" },
  });
  assert.deepEqual(
    lines.map((line) => line.slice(0, line.indexOf(":"))),
    [
      "kafka.brokers",
      "kafka.groupId",
      "target.dialect",
      "target.url",
      "tables[0].table",
      "http.port",
      "http.adminToken",
    ],
  );
});
