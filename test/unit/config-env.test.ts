// biome-ignore-all lint/suspicious/noTemplateCurlyInString: the subject is ${NAME} interpolation
import assert from "node:assert/strict";
import { test } from "node:test";
import { interpolateEnv } from "../../src/config/index.ts";
import { isShadowdbError } from "../../src/errors.ts";

const env = { HOST: "db", PORT: "5432", EMPTY: "", YAML: "a: [1, 2]\nb: {c: d}" };

const one = (text: string) => interpolateEnv({ value: text }, env) as { value: string };

test("${VAR} is replaced, anywhere in a string and as often as it appears", () => {
  assert.equal(one("${HOST}").value, "db");
  assert.equal(one("postgres://${HOST}:${PORT}/x-${HOST}").value, "postgres://db:5432/x-db");
  assert.equal(one("${EMPTY}").value, "");
});

test("${VAR:-default} falls back when VAR is unset or empty, as in the shell", () => {
  assert.equal(one("${NOPE:-127.0.0.1:19092}").value, "127.0.0.1:19092");
  assert.equal(one("${EMPTY:-fallback}").value, "fallback");
  assert.equal(one("${HOST:-fallback}").value, "db");
  assert.equal(one("${NOPE:-}").value, "");
  assert.equal(one("${NOPE:-a b, c:d}").value, "a b, c:d");
});

test("$${ is a literal ${, and a lone $ is itself", () => {
  assert.equal(one("$${HOST}").value, "${HOST}");
  assert.equal(one("cost: $5, $${x} and ${HOST}$").value, "cost: $5, ${x} and db$");
  assert.equal(one("public.t$1").value, "public.t$1");
});

test("a variable's content stays one string: it cannot add YAML structure", () => {
  assert.deepEqual(interpolateEnv({ a: "${YAML}" }, env), { a: "a: [1, 2]\nb: {c: d}" });
});

test("every string in the document is interpolated, keys and non-strings are left alone", () => {
  const document = { "${HOST}": "${HOST}", list: ["${PORT}", 1, true, null, { deep: ["${HOST}"] }], n: 5 };
  assert.deepEqual(interpolateEnv(document, env), {
    "${HOST}": "db",
    list: ["5432", 1, true, null, { deep: ["db"] }],
    n: 5,
  });
});

test("unset variables without default: one CONFIG_ENV_MISSING naming each variable and key path", () => {
  const document = {
    kafka: { sasl: { password: "${KAFKA_PASSWORD}" } },
    tables: [{ table: "public.${TABLE}" }],
  };
  assert.throws(
    () => interpolateEnv(document, env, "c.yaml"),
    (error: unknown) => {
      assert.ok(isShadowdbError(error, "CONFIG_ENV_MISSING"));
      assert.equal(
        error.message,
        [
          "c.yaml: environment variables are not set (set them, or give a default with ${NAME:-default}):",
          "  kafka.sasl.password: KAFKA_PASSWORD is not set",
          "  tables[0].table: TABLE is not set",
        ].join("\n"),
      );
      return true;
    },
  );
});

test("malformed references are CONFIG_INVALID, with the key path", () => {
  for (const [text, shown] of [
    ["${HOST", '"${HOST" has no closing }'],
    ["${}", '"${}" is not ${NAME} or ${NAME:-default}'],
    ["${1X}", '"${1X}" is not ${NAME} or ${NAME:-default}'],
    ["${HOST:default}", '"${HOST:default}" is not ${NAME} or ${NAME:-default}'],
    ["${A:-${B}}", '"${A:-${B}" is not ${NAME} or ${NAME:-default}'],
  ] as const) {
    assert.throws(
      () => interpolateEnv({ log: { level: text } }, env),
      (error: unknown) => {
        assert.ok(isShadowdbError(error, "CONFIG_INVALID"), String(error));
        assert.match(error.message, /^malformed \$\{…\} references/);
        assert.ok(error.message.endsWith(`\n  log.level: ${shown}`), error.message);
        return true;
      },
    );
  }
});
