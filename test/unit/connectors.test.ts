// biome-ignore-all lint/suspicious/noTemplateCurlyInString: the connector files use ${NAME} placeholders, tested here verbatim
import assert from "node:assert/strict";
import { test } from "node:test";
import { loadConnectors, stackAvroConnectorFiles, substitute } from "../../stack/connect.ts";
import { StackError } from "../../stack/wait.ts";

test("substitute fills every ${NAME} and refuses unknown names", () => {
  assert.equal(substitute("a=${X}, b=${Y_2}", { X: "1", Y_2: "two" }, "t"), "a=1, b=two");
  assert.throws(
    () => substitute("${MISSING}", {}, "connectors/x.json"),
    (error: unknown) => {
      assert.ok(error instanceof StackError);
      assert.match(error.message, /connectors\/x\.json: unknown variable \$\{MISSING\}/);
      return true;
    },
  );
});

test("the shipped connectors ask for the settings shadowdb relies on", async () => {
  const vars = new Proxy({} as Record<string, string>, { get: (_, name) => `v_${String(name)}` });
  const specs = await loadConnectors(vars);
  assert.deepEqual(specs.map((s) => s.config["connector.class"]).sort(), [
    "io.debezium.connector.mariadb.MariaDbConnector",
    "io.debezium.connector.postgresql.PostgresConnector",
  ]);
  for (const { config } of specs) {
    assert.equal(config["provide.transaction.metadata"], "true");
    assert.equal(config["tombstones.on.delete"], "true");
    assert.equal(config["value.converter.schemas.enable"], "true");
    assert.ok(Number(config["heartbeat.interval.ms"]) > 0);
  }
  const postgres = specs.find((s) => s.config["connector.class"]?.includes("postgresql"))!;
  assert.equal(postgres.config["plugin.name"], "pgoutput");
});

test("the Avro connectors capture the same sources without clashing with the JSON ones", async () => {
  const vars = new Proxy({} as Record<string, string>, { get: (_, name) => `v_${String(name)}` });
  const json = await loadConnectors(vars);
  const avro = await loadConnectors(vars, stackAvroConnectorFiles);
  const unique = [
    "name",
    "topic.prefix",
    "slot.name",
    "publication.name",
    "database.server.id",
    "schema.history.internal.kafka.topic",
  ];
  for (const spec of avro) {
    const twin = json.find((j) => j.config["connector.class"] === spec.config["connector.class"])!;
    assert.notEqual(spec.name, twin.name);
    for (const setting of unique) {
      if (twin.config[setting] !== undefined)
        assert.notEqual(spec.config[setting], twin.config[setting], setting);
    }
    for (const side of ["key", "value"]) {
      assert.equal(spec.config[`${side}.converter`], "io.apicurio.registry.utils.converter.AvroConverter");
      assert.equal(
        spec.config[`${side}.converter.apicurio.registry.url`],
        "v_SHADOWDB_APICURIO_REGISTRY_URL",
      );
    }
  }
  const framing = (c: Record<string, string>) =>
    c["value.converter.apicurio.registry.as-confluent"] === "true" ? "confluent" : "apicurio-headers";
  assert.deepEqual(avro.map((s) => framing(s.config)).sort(), ["apicurio-headers", "confluent"]);
});
