/**
 * deploy/compose/compose.yaml checked without a Docker engine: validated against the Compose
 * Specification's JSON schema (the copy dclint ships, with ajv), then against the repository and
 * itself: build contexts, Dockerfiles and mounted files exist, images are pinned, every
 * depends_on condition can be met, the connectors one-shot sets every variable of the connector
 * files it applies, each shadowdb service's config loads with its environment, and Envoy's config
 * (checked field by field against Envoy's own protobuf API, as vendored in @grpc/grpc-js-xds)
 * mirrors the production service to the shadow service, which uses the database shadowdb feeds.
 */
// biome-ignore-all lint/suspicious/noTemplateCurlyInString: compose and config files hold ${VAR} references
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { test } from "node:test";
import { Ajv } from "ajv";
import protobuf from "protobufjs";
import { parse } from "yaml";
import { parseConfig } from "../../src/config/index.ts";

type Json = Record<string, unknown>;

interface Service {
  image?: string;
  build?: { context: string; dockerfile?: string };
  command?: string[];
  environment?: Record<string, string>;
  volumes?: string[];
  ports?: string[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test?: string[]; disable?: boolean };
  restart?: string;
}

const dir = "deploy/compose";
const composeText = readFileSync(`${dir}/compose.yaml`, "utf8");
const compose = parse(composeText) as { services: Record<string, Service> };
const services = compose.services;

/** The Compose Specification schema, as dclint ships it (a copy of compose-spec's compose-spec.json). */
function composeSchemaValidator() {
  const require = createRequire(import.meta.url);
  const file = path.join(path.dirname(require.resolve("dclint/package.json")), "schemas/compose.schema.json");
  // Its $schema names draft-07 by an https URL ajv does not know by that spelling; ajv's default
  // meta-schema is draft-07, against which the schema itself is checked on compile.
  const { $schema, ...schema } = JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>;
  assert.match(String($schema), /draft-07/);
  const ajv = new Ajv({ allErrors: true, strictTypes: false });
  const validate = ajv.compile(schema);
  return (doc: unknown) =>
    validate(doc) ? [] : ajv.errorsText(validate.errors, { separator: "\n" }).split("\n");
}

/** Compose's own interpolation of the file's values: ${VAR}, ${VAR:-default}, $$ for a literal $. */
function interpolate(value: string, env: Record<string, string> = {}): string {
  return value.replace(/\$\$|\$\{(\w+)(?::?-([^}]*))?\}/g, (whole, name?: string, fallback?: string) =>
    whole === "$$" ? "$" : (env[name!] ?? fallback ?? ""),
  );
}

const validateCompose = composeSchemaValidator();

const environment = (name: string) =>
  Object.fromEntries(
    Object.entries(services[name]?.environment ?? {}).map(([k, v]) => [k, interpolate(String(v))]),
  );

test("compose.yaml validates against the Compose Specification schema", () => {
  assert.deepEqual(validateCompose(compose), []);
  assert.deepEqual(Object.keys(services).sort(), [
    "connect",
    "connectors",
    "envoy",
    "kafka",
    "orders",
    "orders-shadow",
    "prod-mysql",
    "prod-postgres",
    "shadow-mysql",
    "shadow-postgres",
    "shadowdb",
    "shadowdb-mysql",
  ]);
});

test("the schema rejects broken copies of compose.yaml", () => {
  const broken: [(copy: { services: Record<string, Record<string, unknown>> }) => void, RegExp][] = [
    [
      (c) => ((c.services.shadowdb!.depends_on as Record<string, Json>).kafka!.condition = "service_ready"),
      /condition must be equal to one of the allowed values/,
    ],
    [(c) => (c.services.shadowdb!.imagee = "shadowdb:local"), /must NOT have additional properties/],
    [(c) => (c.services.kafka!.healthcheck = { test: ["CMD"], interval: 5 }), /interval must be string/],
    [(c) => (c.services.envoy!.ports = "10000:10000"), /ports must be array/],
  ];
  for (const [change, expected] of broken) {
    const copy = structuredClone(compose) as unknown as { services: Record<string, Record<string, unknown>> };
    change(copy);
    assert.match(validateCompose(copy).join("\n"), expected);
  }
});
test("build contexts, Dockerfiles and mounted files exist, and every file here is used", () => {
  const used = new Set<string>(["compose.yaml"]);
  for (const [name, service] of Object.entries(services)) {
    if (service.build) {
      const context = path.join(dir, service.build.context);
      const dockerfile = path.join(context, service.build.dockerfile ?? "Dockerfile");
      assert.ok(existsSync(dockerfile), `${name}: ${dockerfile}`);
      for (const file of readdirSync(context)) used.add(path.relative(dir, path.join(context, file)));
    }
    for (const volume of service.volumes ?? []) {
      const [source, target, mode] = volume.split(":");
      assert.match(source!, /^\.\//, `${name}: ${volume} is a bind mount of a file here`);
      assert.ok(existsSync(path.join(dir, source!)), `${name}: ${source} exists`);
      assert.match(target!, /^\//);
      assert.equal(mode, "ro", `${name}: ${volume} is read-only`);
      used.add(path.normalize(source!));
    }
  }
  const here = (sub: string): string[] =>
    readdirSync(path.join(dir, sub), { withFileTypes: true }).flatMap((e) =>
      e.isDirectory() ? here(path.join(sub, e.name)) : [path.join(sub, e.name)],
    );
  const unused = here(".").filter(
    (f) => !used.has(f) && !used.has(path.dirname(f)) && f !== "sample/.dockerignore",
  );
  assert.deepEqual(unused, []);
});

test("images are pinned, built images named, host ports bound to loopback and unique", () => {
  const hostPorts: string[] = [];
  for (const [name, service] of Object.entries(services)) {
    assert.ok(service.image, `${name} has an image`);
    if (!service.build) {
      const tag = /:([^/:]+)$/.exec(service.image)?.[1];
      assert.ok(tag && tag !== "latest", `${name}: ${service.image} has a pinned tag`);
    }
    for (const port of service.ports ?? []) {
      const match = /^127\.0\.0\.1:(\d+):(\d+)$/.exec(port);
      assert.ok(match, `${name}: ${port} is published on 127.0.0.1 only`);
      hostPorts.push(match[1]!);
    }
  }
  assert.equal(new Set(hostPorts).size, hostPorts.length, `host ports are unique: ${hostPorts}`);
  // Services built from the same context share one image name; different contexts, different names.
  const byImage = new Map<string, Set<string>>();
  for (const s of Object.values(services).filter((s) => s.build))
    byImage.set(s.image!, (byImage.get(s.image!) ?? new Set()).add(JSON.stringify(s.build)));
  for (const [image, builds] of byImage) assert.equal(builds.size, 1, `${image}: one build`);
});

test("every depends_on condition can be met, and the graph has no cycle", () => {
  const dockerfileHealthcheck = (s: Service) =>
    s.build !== undefined &&
    /^HEALTHCHECK /m.test(
      readFileSync(path.join(dir, s.build.context, s.build.dockerfile ?? "Dockerfile"), "utf8"),
    );
  for (const [name, service] of Object.entries(services)) {
    for (const [dependency, { condition }] of Object.entries(service.depends_on ?? {})) {
      const target = services[dependency];
      assert.ok(target, `${name} depends on ${dependency}, a service`);
      if (condition === "service_healthy")
        assert.ok(
          (target.healthcheck?.test !== undefined && !target.healthcheck.disable) ||
            dockerfileHealthcheck(target),
          `${name} waits for ${dependency} to be healthy: it needs a healthcheck`,
        );
      else if (condition === "service_completed_successfully") {
        assert.equal(target.restart, "no", `${dependency} is a one-shot`);
        assert.ok(target.command, `${dependency} runs a command and exits`);
      } else assert.equal(condition, "service_started");
    }
  }
  const visiting = new Set<string>();
  const done = new Set<string>();
  const visit = (name: string, trail: string[]) => {
    assert.ok(!visiting.has(name), `cycle: ${[...trail, name].join(" → ")}`);
    if (done.has(name)) return;
    visiting.add(name);
    for (const dependency of Object.keys(services[name]?.depends_on ?? {}))
      visit(dependency, [...trail, name]);
    visiting.delete(name);
    done.add(name);
  };
  for (const name of Object.keys(services)) visit(name, []);
  // shadowdb's own instances stop after shutdown.timeoutMs (10 s): compose must wait longer.
  for (const name of ["shadowdb", "shadowdb-mysql"])
    assert.match(String((services[name] as Json).stop_grace_period), /^(1[1-9]|[2-9]\d)s$/);
});

test("the connectors one-shot applies shipped connector files with every variable they use", () => {
  const { command = [] } = services.connectors!;
  assert.deepEqual(command.slice(0, 4), ["connectors", "apply", "--connect-url", "http://connect:8083"]);
  assert.equal(services.connectors!.build?.dockerfile, "deploy/Dockerfile", "the shadowdb image");
  const files = command.flatMap((arg, i) => (command[i - 1] === "--file" ? [arg] : []));
  assert.deepEqual(files, ["postgres", "mysql"]);
  const env = environment("connectors");
  const classes: string[] = [];
  for (const engine of files) {
    const text = readFileSync(`connectors/${engine}.json`, "utf8");
    for (const [, name] of text.matchAll(/\$\{(\w+)\}/g))
      assert.ok(env[name!], `connectors/${engine}.json: ${name} is set`);
    const filled = JSON.parse(text.replace(/\$\{(\w+)\}/g, (_, name: string) => env[name]!)) as {
      config: Record<string, string>;
    };
    classes.push(filled.config["connector.class"]!);
    const host = filled.config["database.hostname"]!;
    assert.ok(services[host], `${engine}: database.hostname ${host} is a service`);
    assert.ok(
      Object.keys(services.connectors!.depends_on ?? {}).includes(host),
      `connectors waits for ${host}`,
    );
  }
  assert.deepEqual(classes, [
    "io.debezium.connector.postgresql.PostgresConnector",
    "io.debezium.connector.mysql.MySqlConnector",
  ]);

  // The production databases are prepared as the connectors expect.
  const pg = services["prod-postgres"]!;
  assert.ok(pg.command?.includes("wal_level=logical"));
  const pgInit = (pg.volumes ?? [])
    .map((v) => readFileSync(path.join(dir, v.split(":")[0]!), "utf8"))
    .join("\n");
  const pgConnector = JSON.parse(readFileSync("connectors/postgres.json", "utf8")) as {
    config: Record<string, string>;
  };
  const publication = interpolate(pgConnector.config["publication.name"]!, env);
  assert.match(pgInit, new RegExp(`CREATE PUBLICATION ${publication} FOR ALL TABLES`));
  assert.match(
    pgInit,
    new RegExp(
      `CREATE ROLE ${env.SHADOWDB_DBZ_USER} WITH LOGIN REPLICATION PASSWORD '${env.SHADOWDB_DBZ_PASSWORD}'`,
    ),
  );
  assert.equal(environment("prod-postgres").POSTGRES_DB, env.SHADOWDB_PG_DATABASE);
  const my = services["prod-mysql"]!;
  for (const flag of ["--log-bin=mysql-bin", "--binlog-format=ROW", "--binlog-row-image=FULL"])
    assert.ok(my.command?.includes(flag), flag);
  const serverId = my.command?.find((f) => f.startsWith("--server-id="))?.split("=")[1];
  assert.notEqual(serverId, env.SHADOWDB_MY_SERVER_ID, "the connector's server id differs from the server's");
  const myInit = readFileSync(path.join(dir, my.volumes![0]!.split(":")[0]!), "utf8");
  assert.match(
    myInit,
    new RegExp(
      `CREATE USER IF NOT EXISTS '${env.SHADOWDB_DBZ_USER}'@'%' IDENTIFIED BY '${env.SHADOWDB_DBZ_PASSWORD}'`,
    ),
  );
  assert.match(myInit, /REPLICATION SLAVE, REPLICATION CLIENT/);
  assert.equal(environment("prod-mysql").MYSQL_DATABASE, env.SHADOWDB_MY_DATABASE);
});

/** The config a shadowdb service runs: a mounted file at the image's default path, or one in the image. */
function shadowdbConfig(name: string): { file: string; text: string } {
  const service = services[name]!;
  const args = service.command ?? ["run", "--config", "/etc/shadowdb/config.yaml"];
  assert.equal(args[0], "run");
  const file = args[args.indexOf("--config") + 1]!;
  const mount = (service.volumes ?? []).find((v) => v.split(":")[1] === file);
  // A relative path is inside the image (WORKDIR /app), which carries the repository's config/.
  const local = mount
    ? path.join(dir, mount.split(":")[0]!)
    : path.posix.normalize(file.replace(/^\/app\//, ""));
  return { file: local, text: readFileSync(local, "utf8") };
}

test("each shadowdb service's config loads with the service's environment and reaches the compose services", () => {
  const kafkaListener = /INTERNAL:\/\/([\w-]+:\d+)/.exec(
    environment("kafka").KAFKA_ADVERTISED_LISTENERS!,
  )?.[1];
  const expected = {
    shadowdb: ["postgres", "shadow-postgres"],
    "shadowdb-mysql": ["mysql", "shadow-mysql"],
  } as const;
  for (const [name, [dialect, database]] of Object.entries(expected)) {
    const { file, text } = shadowdbConfig(name);
    const config = parseConfig(text, file, environment(name));
    assert.equal(config.target.dialect, dialect, name);
    assert.equal(new URL(config.target.url).hostname, database, `${name} writes to ${database}`);
    assert.ok(services[database]?.depends_on === undefined && services[name]!.depends_on?.[database]);
    assert.deepEqual(config.kafka.brokers, [kafkaListener], `${name} reaches Kafka's internal listener`);
    assert.ok(config.http.adminToken && config.http.adminToken.length >= 16);
    assert.ok(
      services[name]!.ports?.some((p) => p.endsWith(`:${config.http.port}`)),
      `${name} publishes http.port`,
    );
    // The image's HEALTHCHECK asks port 8080: the config must listen there.
    assert.equal(config.http.port, 8080);
  }
  const { file, text } = shadowdbConfig("shadowdb");
  assert.equal(file, `${dir}/shadowdb.yaml`);
  // Topics of the PostgreSQL connector map to the shadow's tables.
  const config = parseConfig(text, file, environment("shadowdb"));
  assert.ok(config.tables.some((t) => "topic" in t && t.topic === "pgprod.public.orders"));
  assert.equal(shadowdbConfig("shadowdb-mysql").file, "config/mysql.yaml");
});

/**
 * Envoy's API (envoy.config.bootstrap.v3.Bootstrap and what it reaches), from the .proto files
 * @grpc/grpc-js-xds vendors from envoyproxy/data-plane-api, loaded with protobufjs.
 */
function envoyApi(): protobuf.Root {
  const require = createRequire(import.meta.url);
  const deps = path.join(path.dirname(require.resolve("@grpc/grpc-js-xds/package.json")), "deps");
  const roots = [
    ...["envoy-api", "googleapis", "protoc-gen-validate", "xds"].map((d) => path.join(deps, d)),
    path.dirname(require.resolve("protobufjs/package.json")),
  ];
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) =>
    roots.map((r) => path.resolve(r, target)).find((file) => existsSync(file)) ?? target;
  root.loadSync(
    [
      "envoy/config/bootstrap/v3/bootstrap.proto",
      "envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.proto",
      "envoy/extensions/filters/http/router/v3/router.proto",
      "envoy/extensions/access_loggers/stream/v3/stream.proto",
    ],
    { keepCase: true },
  );
  root.resolveAll();
  return root;
}

const envoyRoot = envoyApi();
const scalarWrapper = /^\.google\.protobuf\.(Double|Float|U?Int(32|64)|Bool|String|Bytes)Value$/;
const camel = (name: string) => name.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());

/**
 * What Envoy would refuse in a config (its YAML is the protobuf JSON mapping of Bootstrap):
 * unknown or deprecated fields, wrong types, undefined enum names, two fields of one oneof, an
 * Any whose @type is unknown, and the required fields and non-empty strings of its validation
 * rules. Struct values are not looked into.
 */
function envoyProblems(
  value: unknown,
  type = envoyRoot.lookupType("envoy.config.bootstrap.v3.Bootstrap"),
  at = "$",
): string[] {
  if (typeof value !== "object" || value === null || Array.isArray(value))
    return [`${at}: expected ${type.name}`];
  const object = value as Json;
  if (type.fullName === ".google.protobuf.Any") {
    const name = String(object["@type"] ?? "").replace(/^type\.googleapis\.com\//, "");
    const inner = envoyRoot.lookup(name);
    if (!(inner instanceof protobuf.Type)) return [`${at}: unknown @type ${object["@type"]}`];
    const { "@type": _, ...rest } = object;
    return envoyProblems(rest, inner, `${at}<${inner.name}>`);
  }
  if (type.fullName === ".google.protobuf.Struct") return [];
  const problems: string[] = [];
  const fields = Object.values(type.fields);
  const present = new Set<string>();
  for (const [key, item] of Object.entries(object)) {
    const field = fields.find((f) => f.name === key || camel(f.name) === key);
    const where = `${at}.${key}`;
    if (!field) {
      problems.push(`${where}: ${type.fullName.slice(1)} has no such field`);
      continue;
    }
    present.add(field.name);
    if (field.options?.deprecated) problems.push(`${where}: deprecated`);
    const items = field.repeated
      ? item
      : field instanceof protobuf.MapField
        ? Object.values(item as Json)
        : [item];
    if (!Array.isArray(items)) {
      problems.push(`${where}: expected a list`);
      continue;
    }
    items.forEach((element, i) => {
      const here = field.repeated ? `${where}[${i}]` : where;
      const resolved = field.resolvedType;
      if (resolved instanceof protobuf.Enum) {
        if (
          !(String(element) in resolved.values) &&
          !Object.values(resolved.values).includes(element as number)
        )
          problems.push(
            `${here}: ${JSON.stringify(element)} is not one of ${Object.keys(resolved.values).join(", ")}`,
          );
      } else if (resolved instanceof protobuf.Type && resolved.fullName === ".google.protobuf.Duration") {
        if (typeof element !== "string" || !/^-?\d+(\.\d+)?s$/.test(element))
          problems.push(`${here}: a duration is written "1.5s"`);
      } else if (resolved instanceof protobuf.Type && !scalarWrapper.test(resolved.fullName)) {
        problems.push(...envoyProblems(element, resolved, here));
      } else {
        const kind = scalarWrapper.exec(resolved?.fullName ?? "")?.[1]?.toLowerCase() ?? field.type;
        const ok = /string|bytes/.test(kind)
          ? typeof element === "string"
          : kind === "bool"
            ? typeof element === "boolean"
            : typeof element === "number" || (/64/.test(kind) && /^-?\d+$/.test(String(element)));
        if (!ok) problems.push(`${here}: expected ${kind}, got ${JSON.stringify(element)}`);
        if (
          typeof element === "string" &&
          element === "" &&
          field.options?.["(validate.rules).string.min_len"]
        )
          problems.push(`${here}: must not be empty`);
      }
    });
  }
  for (const oneof of Object.values(type.oneofs ?? {})) {
    const set = oneof.fieldsArray.filter((f) => present.has(f.name));
    if (set.length > 1) problems.push(`${at}: ${set.map((f) => f.name).join(" and ")} exclude each other`);
  }
  // Inside a oneof, the rule applies to the member chosen, not to the others.
  for (const field of fields)
    if (field.options?.["(validate.rules).message.required"] && !field.partOf && !present.has(field.name))
      problems.push(`${at}.${field.name}: required`);
  return problems;
}

const envoyFile = () => path.join(dir, services.envoy!.volumes![0]!.split(":")[0]!);

test("Envoy's config uses Envoy's API as it is, and the check finds what Envoy would refuse", () => {
  const envoy = parse(readFileSync(envoyFile(), "utf8")) as Json;
  assert.deepEqual(envoyProblems(envoy), []);
  type Walk = { static_resources: { listeners: Json[]; clusters: Json[] } };
  const route = (c: Walk) =>
    (
      (
        (
          (
            ((c.static_resources.listeners[0]!.filter_chains as Json[])[0]!.filters as Json[])[0]!
              .typed_config as Json
          ).route_config as Json
        ).virtual_hosts as Json[]
      )[0]!.routes as Json[]
    )[0]!.route as Json;
  const broken: [(c: Walk) => void, RegExp][] = [
    [
      (c) => (route(c).request_mirror_policy = [{ cluster: "orders_shadow" }]),
      /request_mirror_policy: .* has no such field/,
    ],
    [
      (c) => {
        const [mirror] = route(c).request_mirror_policies as { runtime_fraction: { default_value: Json } }[];
        mirror!.runtime_fraction.default_value.denominator = "PERCENT";
      },
      /"PERCENT" is not one of HUNDRED/,
    ],
    [(c) => (c.static_resources.clusters[0]!.type = "STRICTDNS"), /"STRICTDNS" is not one of .*STRICT_DNS/],
    [(c) => (route(c).timeout = 5), /a duration is written/],
    [
      (c) => (route(c).weighted_clusters = { clusters: [] }),
      /cluster and weighted_clusters exclude each other/,
    ],
    [
      (c) =>
        ((
          ((c.static_resources.listeners[0]!.filter_chains as Json[])[0]!.filters as Json[])[0]!
            .typed_config as Json
        )["@type"] = "type.googleapis.com/envoy.NoSuchFilter"),
      /unknown @type/,
    ],
    [(c) => (c.static_resources.clusters[1]!.name = ""), /name: must not be empty/],
    [(c) => (route(c).request_mirror_policies = { cluster: "orders_shadow" }), /expected a list/],
  ];
  for (const [change, expected] of broken) {
    const copy = structuredClone(envoy) as unknown as Walk;
    change(copy);
    assert.match(envoyProblems(copy).join("\n"), expected);
  }
});

interface EnvoyCluster {
  name: string;
  load_assignment: {
    endpoints: {
      lb_endpoints: { endpoint: { address: { socket_address: { address: string; port_value: number } } } }[];
    }[];
  };
}

test("Envoy answers from orders and mirrors every request to orders-shadow, on the database shadowdb feeds", () => {
  const envoy = parse(readFileSync(envoyFile(), "utf8")) as {
    static_resources: { listeners: Json[]; clusters: EnvoyCluster[] };
  };
  const manager = JSON.stringify(envoy.static_resources.listeners);
  const routes = [
    ...manager.matchAll(
      /"route":\{"cluster":"(\w+)".*?"request_mirror_policies":\[\{"cluster":"(\w+)","runtime_fraction":\{"default_value":\{"numerator":(\d+),"denominator":"(\w+)"\}/g,
    ),
  ];
  assert.equal(routes.length, 1, "one route, with a mirror policy");
  const [, primary, mirror, numerator, denominator] = routes[0]!;
  assert.deepEqual([numerator, denominator], ["100", "HUNDRED"], "every request is mirrored");
  const endpoint = (cluster: string) => {
    const found = envoy.static_resources.clusters.find((c) => c.name === cluster);
    assert.ok(found, `cluster ${cluster} is defined`);
    return found.load_assignment.endpoints[0]!.lb_endpoints[0]!.endpoint.address.socket_address;
  };
  const production = endpoint(primary!);
  const shadow = endpoint(mirror!);
  assert.deepEqual([production.address, shadow.address], ["orders", "orders-shadow"]);
  for (const { address, port_value } of [production, shadow]) {
    assert.equal(environment(address).PORT, String(port_value), `${address} listens on ${port_value}`);
    assert.ok(services.envoy!.depends_on?.[address], `envoy waits for ${address}`);
  }
  // Listener and admin ports are the published ones.
  for (const port of [...manager.matchAll(/"port_value":(\d+)/g)].map((m) => m[1]))
    assert.ok(services.envoy!.ports?.includes(`127.0.0.1:${port}:${port}`), `listener ${port} is published`);

  // Production's service uses production's database; the shadow uses the database shadowdb writes.
  const database = (name: string) => new URL(environment(name).DATABASE_URL!);
  const target = new URL(
    parseConfig(shadowdbConfig("shadowdb").text, "shadowdb.yaml", environment("shadowdb")).target.url,
  );
  assert.equal(database("orders").host, "prod-postgres:5432");
  assert.equal(database("orders-shadow").host, target.host);
  assert.equal(database("orders-shadow").pathname, target.pathname);
  assert.equal(database("orders-shadow").password, target.password);
  assert.equal(
    database("orders").password,
    environment("prod-postgres").POSTGRES_PASSWORD,
    "production's service has production's password",
  );
  assert.deepEqual(
    [environment("orders").SAMPLE_VERSION, environment("orders-shadow").SAMPLE_VERSION],
    ["v1", "v2"],
  );
  // Both databases run the application's migration.
  for (const db of ["prod-postgres", "shadow-postgres"])
    assert.ok(
      services[db]!.volumes?.some((v) => v.startsWith("./sample/schema.sql:")),
      `${db} runs schema.sql`,
    );
});
