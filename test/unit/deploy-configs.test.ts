/**
 * Every shadowdb config the project ships loads with the real loader (src/config: YAML, ${VAR}
 * interpolation, the zod schema), given dummy values for the variables it needs: the examples in
 * config/, the compose story's deploy/compose/shadowdb.yaml and the config.yaml the Kubernetes
 * ConfigMap embeds. deploy-compose and deploy-k8s check them again with the environment their
 * service or Deployment really gives them.
 */
// biome-ignore-all lint/suspicious/noTemplateCurlyInString: configs hold ${VAR} references, tested verbatim
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { test } from "node:test";
import { parseAllDocuments } from "yaml";
import { loadConfig, parseConfig } from "../../src/config/index.ts";
import { type ErrorCode, isShadowdbError } from "../../src/errors.ts";

/** Dummy values, shaped as each variable must be (a URL of the right scheme, brokers, a token). */
const dummy: Record<string, string> = {
  SHADOWDB_KAFKA_BROKERS: "kafka-0:9092,kafka-1:9092",
  SHADOWDB_TARGET_URL: "postgresql://shadowdb:secret@shadow-db:5432/shadow",
  SHADOWDB_PG_SHADOW_URL: "postgresql://postgres:secret@shadow-db:5432/shadow",
  SHADOWDB_MY_SHADOW_URL: "mysql://root:secret@shadow-db:3306/shadow",
  SHADOWDB_ADMIN_TOKEN: "dummy-token-0123456789",
};

/** The variables a config uses without a fallback (comments left out). */
function required(text: string): string[] {
  const live = text.replace(/^\s*#.*$/gm, "");
  return [...new Set([...live.matchAll(/(?<!\$)\$\{([A-Za-z_]\w*)\}/g)].map((m) => m[1]!))].sort();
}

function configMapConfig(): string {
  const [doc] = parseAllDocuments(readFileSync("deploy/k8s/base/configmap.yaml", "utf8")) as unknown as {
    toJS(): { data: Record<string, string> };
  }[];
  return doc!.toJS().data["config.yaml"]!;
}

const shipped = [
  ...readdirSync("config")
    .filter((f) => /\.ya?ml$/.test(f))
    .map((f) => `config/${f}`),
  "deploy/compose/shadowdb.yaml",
];

test("every shipped config file loads with the real loader", async () => {
  assert.deepEqual(shipped, ["config/mysql.yaml", "config/postgres.yaml", "deploy/compose/shadowdb.yaml"]);
  const dialects: string[] = [];
  for (const file of shipped) {
    const text = readFileSync(file, "utf8");
    for (const name of required(text))
      assert.ok(name in dummy, `${file} needs ${name}: give it a dummy value`);
    const config = await loadConfig(file, dummy);
    dialects.push(config.target.dialect);
    assert.ok(config.tables.length > 0, file);
  }
  assert.deepEqual(dialects, ["mysql", "postgres", "postgres"]);
});

test("the ConfigMap's embedded config.yaml loads with the real loader", async () => {
  const text = configMapConfig();
  assert.deepEqual(required(text), ["SHADOWDB_ADMIN_TOKEN", "SHADOWDB_TARGET_URL"]);
  // Through loadConfig from a file too, as the container reads it.
  const folder = mkdtempSync(path.join(tmpdir(), "shadowdb-configmap-"));
  try {
    const file = path.join(folder, "config.yaml");
    writeFileSync(file, text);
    const config = await loadConfig(file, dummy);
    assert.equal(config.target.dialect, "postgres");
    assert.equal(config.http.port, 8080);
    assert.deepEqual(parseConfig(text, "configmap", dummy), config);
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
});

test("the loader rejects broken copies, so the checks above can fail", () => {
  const text = configMapConfig();
  const broken: [string, ErrorCode, RegExp][] = [
    [text.replace("port: 8080", "port: eighty"), "CONFIG_INVALID", /http\.port/],
    [text.replace("dialect: postgres", "dialect: oracle"), "CONFIG_INVALID", /target\.dialect/],
    [text.replace("timeoutMs: 10000", "timeoutMs: 10000\n  timoutMs: 5"), "CONFIG_INVALID", /timoutMs/],
    [text.replace("  table: public.$1", "  tabel: public.$1"), "CONFIG_INVALID", /tabel/],
  ];
  for (const [copy, code, expected] of broken) {
    assert.notEqual(copy, text);
    assert.throws(
      () => parseConfig(copy, "configmap", dummy),
      (error: unknown) => isShadowdbError(error, code) && expected.test(error.message),
    );
  }
  // An unset variable names itself.
  const { SHADOWDB_TARGET_URL: _, ...missing } = dummy;
  assert.throws(
    () => parseConfig(text, "configmap", missing),
    (error: unknown) =>
      isShadowdbError(error, "CONFIG_ENV_MISSING") && /SHADOWDB_TARGET_URL/.test(error.message),
  );
});
