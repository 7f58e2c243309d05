/**
 * deploy/k8s/ checked without a cluster: every object of every YAML file is validated against the
 * Kubernetes OpenAPI schemas (kubernetes-models, which compiles them to ajv validators, offline)
 * or Istio's CRD schemas (@kubernetes-models/istio); each kustomization lists exactly the files
 * beside it; and the Deployment agrees with shadowdb itself (probes, ports, config path, secrets,
 * the grace period against shutdown.timeoutMs, memory against the measured RSS).
 */
// biome-ignore-all lint/suspicious/noTemplateCurlyInString: configs hold ${VAR} references, tested verbatim
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { parseAllDocuments } from "yaml";
import { parseConfig } from "../../src/config/index.ts";

type Json = Record<string, unknown>;
interface Manifest {
  file: string;
  doc: Json;
}
interface Model {
  new (data: Json): { validate(): void };
}

const root = "deploy/k8s";

function yamlFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((e) =>
      e.isDirectory()
        ? yamlFiles(path.join(dir, e.name))
        : /\.ya?ml$/.test(e.name)
          ? [path.join(dir, e.name)]
          : [],
    )
    .sort();
}

function load(file: string): Json[] {
  const docs = parseAllDocuments(readFileSync(file, "utf8"));
  if (!Array.isArray(docs)) return [];
  return docs.map((d, i) => {
    assert.deepEqual(
      d.errors.map((e) => e.message),
      [],
      `${file}: document ${i + 1} is not valid YAML`,
    );
    return d.toJS() as Json;
  });
}

const manifests: Manifest[] = yamlFiles(root).flatMap((file) =>
  load(file)
    .filter((doc) => doc !== null)
    .map((doc) => ({ file, doc })),
);
const objects = manifests.filter((m) => m.doc.kind !== "Kustomization");
const find = (kind: string, name: string, dir = `${root}/base`) => {
  const found = objects.find(
    (m) => m.doc.kind === kind && (m.doc.metadata as Json).name === name && path.dirname(m.file) === dir,
  );
  assert.ok(found, `${dir}: ${kind} ${name}`);
  return found.doc as Json & { metadata: Json; spec: Json };
};

/**
 * The model class for an apiVersion and kind: kubernetes-models for Kubernetes' own groups
 * (`apps/v1` → kubernetes-models/apps/v1/Deployment), @kubernetes-models/istio for *.istio.io.
 */
async function modelFor(apiVersion: string, kind: string): Promise<Model> {
  const [group, version] = apiVersion.includes("/") ? apiVersion.split("/") : ["", apiVersion];
  const module = group!.endsWith(".istio.io")
    ? `@kubernetes-models/istio/${group}/${version}/${kind}`
    : `kubernetes-models/${group === "" ? "" : `${group}/`}${version}/${kind}`;
  const loaded = (await import(module)) as Record<string, Model>;
  const model = loaded[kind];
  assert.ok(model, `${module} exports ${kind}`);
  return model;
}

/** The validator's complaint about `doc`, or undefined when it is valid. */
async function schemaProblem(doc: Json): Promise<string | undefined> {
  const model = await modelFor(String(doc.apiVersion), String(doc.kind));
  try {
    new model(doc).validate();
    return undefined;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

test("every object in deploy/k8s validates against its Kubernetes or Istio schema", async () => {
  const kinds = objects.map((m) => `${m.doc.apiVersion} ${m.doc.kind}`).sort();
  assert.deepEqual(kinds, [
    "apps/v1 Deployment",
    "apps/v1 Deployment",
    "networking.istio.io/v1 DestinationRule",
    "networking.istio.io/v1 VirtualService",
    "policy/v1 PodDisruptionBudget",
    "v1 ConfigMap",
    "v1 Secret",
    "v1 Service",
    "v1 Service",
    "v1 ServiceAccount",
  ]);
  for (const { file, doc } of objects) {
    assert.equal(await schemaProblem(doc), undefined, `${file}: ${doc.kind}`);
    assert.match(String((doc.metadata as Json | undefined)?.name), /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, file);
  }
});

test("the validators reject broken copies of the manifests", async () => {
  const broken: [Json, RegExp][] = [];
  const mutate = (doc: Json, change: (copy: Json & { spec: Json }) => void, expected: RegExp) => {
    const copy = structuredClone(doc) as Json & { spec: Json };
    change(copy);
    broken.push([copy, expected]);
  };
  const deployment = find("Deployment", "shadowdb");
  mutate(
    deployment,
    (d) => {
      ((d.spec.template as Json).spec as Json).containers = "x";
    },
    /containers must be array/,
  );
  mutate(
    deployment,
    (d) => {
      delete d.spec.selector;
    },
    /must have required property selector/,
  );
  mutate(
    deployment,
    (d) => {
      (((d.spec.template as Json).spec as Json).containers as Json[])[0]!.ports = [{ containerPort: "http" }];
    },
    /containerPort must be integer/,
  );
  mutate(
    find("Service", "shadowdb"),
    (s) => {
      delete (s.spec.ports as Json[])[0]!.port;
    },
    /must have required property port/,
  );
  mutate(
    find("PodDisruptionBudget", "shadowdb"),
    (p) => {
      p.spec.selector = "app=shadowdb";
    },
    /selector must be object/,
  );
  mutate(
    find("VirtualService", "orders", `${root}/istio`),
    (v) => {
      ((v.spec.http as Json[])[0]!.mirrorPercentage as Json).value = "all";
    },
    /value must be number/,
  );
  mutate(
    find("DestinationRule", "orders", `${root}/istio`),
    (r) => {
      r.spec.subsets = { v1: { version: "v1" } };
    },
    /subsets must be array/,
  );
  for (const [doc, expected] of broken) assert.match((await schemaProblem(doc)) ?? "valid", expected);
});

test("each kustomization lists every manifest beside it, and only existing ones", () => {
  const kustomizations = manifests.filter((m) => m.doc.kind === "Kustomization");
  assert.deepEqual(
    kustomizations.map((k) => k.file),
    [`${root}/base/kustomization.yaml`, `${root}/istio/kustomization.yaml`],
  );
  for (const { file, doc } of kustomizations) {
    assert.equal(doc.apiVersion, "kustomize.config.k8s.io/v1beta1");
    const dir = path.dirname(file);
    const listed = (doc.resources as string[]).slice().sort();
    const beside = readdirSync(dir)
      .filter((f) => /\.ya?ml$/.test(f) && f !== path.basename(file))
      .sort();
    assert.deepEqual(listed, beside, `${file}: resources`);
    // No Secret is ever part of a kustomization: only references to one.
    for (const resource of listed)
      assert.ok(
        load(path.join(dir, resource)).every((d) => d.kind !== "Secret"),
        `${resource} holds a Secret`,
      );
  }
  // base's image transformer names the image the Deployment uses, at the package's version.
  const base = kustomizations[0]!.doc as { images: { name: string; newTag: string }[] };
  const pkg = JSON.parse(readFileSync("package.json", "utf8")) as { version: string };
  assert.deepEqual(
    base.images.map((i) => [i.name, i.newTag]),
    [["shadowdb", pkg.version]],
  );
  assert.equal(container().image, "shadowdb");
});

interface Container {
  name: string;
  image: string;
  args: string[];
  ports: { name: string; containerPort: number }[];
  env: { name: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }[];
  livenessProbe: { httpGet: { path: string; port: string } };
  readinessProbe: { httpGet: { path: string; port: string } };
  resources: { requests: { cpu: string; memory: string }; limits: { memory: string } };
  securityContext: Json;
  volumeMounts: { name: string; mountPath: string }[];
}

const podSpec = () => (find("Deployment", "shadowdb").spec.template as Json).spec as Json;
const container = () => (podSpec().containers as Container[])[0]!;
const configText = () =>
  (find("ConfigMap", "shadowdb-config").data as Record<string, string>)["config.yaml"]!;
/** The ${VAR}s a config needs from the environment (those without a :- fallback). */
const neededVars = (text: string) =>
  [
    ...new Set(
      [...text.replace(/^\s*#.*$/gm, "").matchAll(/(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g)].map(
        (m) => m[1]!,
      ),
    ),
  ].sort();

test("the Deployment runs the ConfigMap's config with every variable it needs, from the Secret", () => {
  const c = container();
  const env = Object.fromEntries(c.env.map((e) => [e.name, `dummy-${e.name.toLowerCase()}-0123456789`]));
  env.SHADOWDB_TARGET_URL = "postgresql://shadowdb:pw@shadow-db:5432/shadow";
  assert.deepEqual(neededVars(configText()), ["SHADOWDB_ADMIN_TOKEN", "SHADOWDB_TARGET_URL"]);
  for (const name of neededVars(configText())) assert.ok(name in env, `${name} is set by the Deployment`);
  const config = parseConfig(configText(), "configmap.yaml", env);

  // The config file is where the container reads it.
  const mount = c.volumeMounts.find((m) => m.name === "config")!;
  const volume = (podSpec().volumes as { name: string; configMap?: { name: string } }[]).find(
    (v) => v.name === "config",
  );
  assert.equal(volume?.configMap?.name, "shadowdb-config");
  assert.deepEqual(c.args, ["run", "--config", `${mount.mountPath}/config.yaml`]);

  // Port, probes and the Prometheus annotations all point at http.port.
  const http = c.ports.find((p) => p.name === "http")!;
  assert.equal(http.containerPort, config.http.port);
  assert.deepEqual(c.livenessProbe.httpGet, { path: "/healthz", port: "http" });
  assert.deepEqual(c.readinessProbe.httpGet, { path: "/readyz", port: "http" });
  const annotations = (find("Deployment", "shadowdb").spec.template as { metadata: { annotations: Json } })
    .metadata.annotations;
  assert.deepEqual(annotations, {
    "prometheus.io/scrape": "true",
    "prometheus.io/port": String(config.http.port),
    "prometheus.io/path": "/metrics",
  });
  // SIGTERM gives the batch in flight shutdown.timeoutMs, then shadowdb exits by itself: the
  // grace period must be longer, with room for the HTTP server and connections to close.
  assert.ok((podSpec().terminationGracePeriodSeconds as number) * 1000 >= config.shutdown.timeoutMs + 10_000);

  // Every secret reference names a key of the Secret whose shape secret.example.yaml shows.
  const secret = find("Secret", "shadowdb", root);
  const refs = c.env.flatMap((e) => (e.valueFrom?.secretKeyRef ? [e.valueFrom.secretKeyRef] : []));
  assert.deepEqual(refs.map((r) => r.name).sort(), ["shadowdb", "shadowdb"]);
  for (const ref of refs)
    assert.ok(ref.key in (secret.stringData as Json), `${ref.key} in secret.example.yaml`);
  // And the example's values make a config that loads.
  const fromSecret = Object.fromEntries(
    c.env.map((e) => [e.name, String((secret.stringData as Json)[e.valueFrom!.secretKeyRef!.key])]),
  );
  assert.equal(parseConfig(configText(), "configmap.yaml", fromSecret).target.dialect, "postgres");
});

test("the Deployment runs non-root, once, recreated, with memory from the measured RSS", () => {
  const deployment = find("Deployment", "shadowdb");
  assert.equal(deployment.spec.replicas, 1);
  assert.deepEqual(deployment.spec.strategy, { type: "Recreate" });
  const labels = (deployment.spec.template as { metadata: { labels: Json } }).metadata.labels;
  const selects = (selector: Json) => Object.entries(selector).every(([k, v]) => labels[k] === v);
  assert.ok(selects((deployment.spec.selector as { matchLabels: Json }).matchLabels));
  assert.ok(selects(find("Service", "shadowdb").spec.selector as Json));
  assert.ok(
    selects((find("PodDisruptionBudget", "shadowdb").spec.selector as { matchLabels: Json }).matchLabels),
  );
  assert.equal(find("PodDisruptionBudget", "shadowdb").spec.maxUnavailable, 1);
  assert.equal(podSpec().serviceAccountName, (find("ServiceAccount", "shadowdb").metadata as Json).name);

  const security = podSpec().securityContext as Json;
  assert.equal(security.runAsNonRoot, true);
  // The image's USER (deploy/Dockerfile) is the uid the pod asks for.
  const user = /^USER (\d+)/m.exec(readFileSync("deploy/Dockerfile", "utf8"))?.[1];
  assert.equal(String(security.runAsUser), user);
  assert.deepEqual(container().securityContext, {
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: true,
    capabilities: { drop: ["ALL"] },
  });

  // bench/results/apply-*.json: peak RSS of every variant of `npm run bench:apply` (1M changes).
  const peaks = readdirSync("bench/results")
    .filter((f) => /^apply-.*\.json$/.test(f))
    .flatMap((f) => [
      ...readFileSync(path.join("bench/results", f), "utf8").matchAll(/"peakRssMiB":\s*(\d+)/g),
    ])
    .map((m) => Number(m[1]));
  assert.ok(peaks.length >= 6, "the apply benchmarks recorded their peak RSS");
  const mib = (quantity: string) => {
    const match = /^(\d+)(Mi|Gi)$/.exec(quantity);
    assert.ok(match, quantity);
    return Number(match[1]) * (match[2] === "Gi" ? 1024 : 1);
  };
  const { requests, limits } = container().resources;
  assert.ok(
    mib(requests.memory) >= Math.max(...peaks),
    `request ${requests.memory} ≥ peak ${Math.max(...peaks)} MiB`,
  );
  assert.ok(mib(requests.memory) <= Math.max(...peaks) * 1.25, "and not far above it");
  assert.ok(mib(limits.memory) > mib(requests.memory));
  assert.equal(requests.cpu, "250m");
});

test("Istio mirrors orders (subset v1) to orders-shadow, which reads the shadow database", () => {
  const dir = `${root}/istio`;
  const vs = find("VirtualService", "orders", dir);
  const dr = find("DestinationRule", "orders", dir);
  const [http] = vs.spec.http as {
    route: { destination: { host: string; subset: string } }[];
    mirror: { host: string };
    mirrorPercentage: { value: number };
  }[];
  assert.deepEqual(vs.spec.hosts, ["orders"]);
  assert.equal(dr.spec.host, "orders");
  const subsets = (dr.spec.subsets as { name: string }[]).map((s) => s.name);
  for (const { destination } of http!.route) {
    assert.equal(destination.host, "orders");
    assert.ok(subsets.includes(destination.subset), `subset ${destination.subset} is defined`);
  }
  assert.equal(http!.mirror.host, "orders-shadow");
  assert.equal(http!.mirrorPercentage.value, 100);
  // The mirror target exists, and its DATABASE_URL comes from a Secret (the shadow database's URL).
  const service = find("Service", "orders-shadow", dir);
  const shadow = find("Deployment", "orders-shadow", dir);
  const template = shadow.spec.template as { metadata: { labels: Json }; spec: { containers: Container[] } };
  assert.ok(
    Object.entries(service.spec.selector as Json).every(([k, v]) => template.metadata.labels[k] === v),
  );
  const url = template.spec.containers[0]!.env.find((e) => e.name === "DATABASE_URL");
  assert.deepEqual(url?.valueFrom?.secretKeyRef, { name: "orders-shadow-db", key: "url" });
});
