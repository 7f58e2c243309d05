/**
 * deploy/Dockerfile (and the compose story's sample service Dockerfile) checked against the
 * repository without a Docker engine: what each COPY takes exists in the build context and is not
 * left out by .dockerignore, what a COPY --from takes is produced in that stage, every `npm run`
 * is a package.json script, and the runtime stage runs as a non-root user, answers its
 * HEALTHCHECK on /healthz and starts the package's bin. Each check is a function that returns
 * problems, and each is shown to find the problem in a broken copy of the file.
 */
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { Script } from "node:vm";

interface Instruction {
  keyword: string;
  args: string;
  line: number;
}

interface Stage {
  name: string | undefined;
  image: string;
  instructions: Instruction[];
}

interface Copy {
  from: string | undefined;
  sources: string[];
  /** Where each source lands, absolute (a destination ending in / or several sources: a folder). */
  targets: string[];
  /** Index of the COPY among the stage's instructions. */
  at: number;
}

const repo = process.cwd();
const read = (file: string) => readFileSync(path.join(repo, file), "utf8");
const packageJson = JSON.parse(read("package.json")) as {
  bin: Record<string, string>;
  files: string[];
  scripts: Record<string, string>;
  engines: { node: string };
};

/** Instructions with continuation lines joined and comments dropped, as BuildKit reads them. */
function instructions(text: string): Instruction[] {
  const out: Instruction[] = [];
  let pending: { text: string; line: number } | undefined;
  text.split("\n").forEach((raw, index) => {
    const trimmed = raw.trim();
    if (trimmed.startsWith("#") || (trimmed === "" && pending === undefined)) return;
    const continued = trimmed.endsWith("\\");
    const part = continued ? trimmed.slice(0, -1) : trimmed;
    pending = pending
      ? { text: `${pending.text} ${part}`, line: pending.line }
      : { text: part, line: index + 1 };
    if (!continued) {
      const match = /^(\S+)\s*(.*)$/.exec(pending.text.trim());
      if (match) out.push({ keyword: match[1]!.toUpperCase(), args: match[2]!.trim(), line: pending.line });
      pending = undefined;
    }
  });
  return out;
}

/** Splits into stages; global ARG defaults are substituted into FROM. */
function stages(text: string): Stage[] {
  const globals: Record<string, string> = {};
  const out: Stage[] = [];
  for (const instruction of instructions(text)) {
    if (instruction.keyword === "ARG" && out.length === 0) {
      const [name, value = ""] = instruction.args.split("=", 2);
      globals[name!] = value;
    } else if (instruction.keyword === "FROM") {
      const from = instruction.args.replace(/\$\{(\w+)\}|\$(\w+)/g, (_, a, b) => globals[a ?? b] ?? "");
      const match = /^(?:--\S+\s+)*(\S+)(?:\s+AS\s+(\S+))?$/i.exec(from);
      assert.ok(match, `FROM at line ${instruction.line}: cannot read ${from}`);
      out.push({ image: match[1]!, name: match[2], instructions: [] });
    } else {
      out.at(-1)?.instructions.push(instruction);
    }
  }
  return out;
}

/** A JSON array argument (exec form) or whitespace-separated words. */
function words(args: string): string[] {
  return args.startsWith("[") ? (JSON.parse(args) as string[]) : args.split(/\s+/).filter(Boolean);
}

function copies(stage: Stage): Copy[] {
  let workdir = "/";
  const out: Copy[] = [];
  stage.instructions.forEach(({ keyword, args }, at) => {
    if (keyword === "WORKDIR") workdir = path.posix.resolve(workdir, args);
    if (keyword !== "COPY" && keyword !== "ADD") return;
    const leading = /^(?:--\S+\s+)*/.exec(args)![0];
    const from = /--from=(\S+)/.exec(leading)?.[1];
    const parts = words(args.slice(leading.length));
    const sources = parts.slice(0, -1);
    const dest = parts.at(-1)!;
    const folder = dest.endsWith("/") || sources.length > 1;
    const targets = sources.map((source) =>
      path.posix.resolve(workdir, folder ? path.posix.join(dest, path.posix.basename(source)) : dest),
    );
    out.push({ from, sources, targets, at });
  });
  return out;
}

/**
 * Whether .dockerignore leaves `file` out of the build context: the last pattern that matches the
 * path or one of its parent directories decides, `!` patterns bring files back (Docker's rules;
 * `*` and `?` stay within one path segment, `**` spans any number).
 */
function ignoredBy(dockerignore: string, file: string): boolean {
  const patterns = dockerignore
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#"));
  const segments = file.split("/");
  const candidates = segments.map((_, i) => segments.slice(0, i + 1).join("/"));
  let ignored = false;
  for (const raw of patterns) {
    const negated = raw.startsWith("!");
    const pattern = path.posix
      .normalize((negated ? raw.slice(1) : raw).replace(/^\/+/, ""))
      .replace(/\/$/, "");
    const regex = new RegExp(
      `^${pattern
        .split(/(\*\*\/?|\*|\?)/)
        .map((piece) =>
          piece === "**/" || piece === "**"
            ? ".*"
            : piece === "*"
              ? "[^/]*"
              : piece === "?"
                ? "[^/]"
                : piece.replace(/[.+^${}()|[\]\\]/g, "\\$&"),
        )
        .join("")}$`,
    );
    if (candidates.some((c) => regex.test(c))) ignored = !negated;
  }
  return ignored;
}

/** Each problem of `dockerfile` (text) for the build context `context` (a folder of the repo). */
function dockerfileProblems(dockerfile: string, context: string, ignoreText?: string): string[] {
  const problems: string[] = [];
  const all = stages(dockerfile);
  const ignoreFile = path.join(repo, context, ".dockerignore");
  const dockerignore = ignoreText ?? (existsSync(ignoreFile) ? readFileSync(ignoreFile, "utf8") : "");
  const scripts = packageScripts(context);
  all.forEach((stage, index) => {
    const copied = copies(stage);
    for (const copy of copied) {
      if (copy.from === undefined) {
        for (const source of copy.sources) {
          const file = path.posix.normalize(path.posix.join(context, source)).replace(/\/$/, "");
          if (/[*?[]/.test(source))
            problems.push(`COPY ${source}: wildcards are not checked; name the files`);
          else if (!existsSync(path.join(repo, file)))
            problems.push(`COPY ${source}: ${file} does not exist`);
          else if (ignoredBy(dockerignore, path.posix.relative(context, file)))
            problems.push(`COPY ${source}: .dockerignore leaves ${file} out of the build context`);
        }
        continue;
      }
      const producer = all.slice(0, index).find((s) => s.name === copy.from);
      if (!producer) {
        problems.push(`COPY --from=${copy.from}: no earlier stage is named so`);
        continue;
      }
      for (const source of copy.sources) problems.push(...producedIn(producer, source));
    }
    stage.instructions.forEach(({ keyword, args: run }, at) => {
      if (keyword !== "RUN") return;
      for (const [, script] of run.matchAll(/npm run(?:-script)?\s+(?:-\S+\s+)*([\w:.-]+)/g)) {
        if (!(script! in scripts)) problems.push(`RUN ${run}: ${script} is not a script of package.json`);
      }
      const lockBefore = copied.some(
        (c) => c.at < at && c.targets.some((t) => t.endsWith("/package-lock.json")),
      );
      if (/\bnpm ci\b/.test(run) && !lockBefore)
        problems.push(`RUN ${run}: npm ci needs package-lock.json copied first`);
    });
  });
  return problems;
}

function packageScripts(context: string): Record<string, string> {
  const file = path.join(repo, context, "package.json");
  return existsSync(file)
    ? ((JSON.parse(readFileSync(file, "utf8")) as { scripts?: Record<string, string> }).scripts ?? {})
    : {};
}

/** Problems with taking `source` (absolute) out of stage `stage`: copied into it, or made by a RUN. */
function producedIn(stage: Stage, source: string): string[] {
  const copied = copies(stage);
  if (copied.some((c) => c.targets.some((t) => t === source || source.startsWith(`${t}/`)))) return [];
  const runs = stage.instructions.filter((i) => i.keyword === "RUN").map((i) => i.args);
  const workdir = stage.instructions
    .filter((i) => i.keyword === "WORKDIR")
    .reduce((dir, i) => path.posix.resolve(dir, i.args), "/");
  const relative = path.posix.relative(workdir, source);
  if (relative === "node_modules") {
    return runs.some((r) => /\bnpm (ci|install)\b/.test(r))
      ? []
      : [`COPY --from=${stage.name} ${source}: no npm ci / npm install in that stage`];
  }
  if (relative === outDir()) {
    return runs.some((r) => /\bnpm run build\b/.test(r))
      ? []
      : [
          `COPY --from=${stage.name} ${source}: no npm run build (tsconfig.build.json's outDir) in that stage`,
        ];
  }
  return [`COPY --from=${stage.name} ${source}: nothing in that stage copies or makes it`];
}

function outDir(): string {
  return (JSON.parse(read("tsconfig.build.json")) as { compilerOptions: { outDir: string } }).compilerOptions
    .outDir;
}

/**
 * Node's LTS lines still supported, with their end of life (nodejs.org/en/about/previous-releases):
 * 20 ended on 2026-04-30. An image on a line not listed here is past its end, or not an LTS.
 */
const supportedNode: Record<number, string> = { 22: "2027-04-30", 24: "2028-04-30" };

/** A base image should be a supported Node LTS on the slim Debian variant, pinned to its major. */
function baseImageProblems(image: string): string[] {
  const match = /^node:(\d+)-bookworm-slim(@sha256:[0-9a-f]{64})?$/.exec(image);
  if (!match) return [`${image}: expected node:<LTS major>-bookworm-slim`];
  const major = Number(match[1]);
  return major in supportedNode ? [] : [`${image}: Node ${major} is not a supported LTS line`];
}

/** Problems with the image's last stage as what runs in production. */
function runtimeProblems(dockerfile: string): string[] {
  const problems: string[] = [];
  const runtime = stages(dockerfile).at(-1)!;
  const last = (keyword: string) => runtime.instructions.filter((i) => i.keyword === keyword).at(-1)?.args;
  const user = last("USER");
  if (user === undefined) problems.push("no USER: the process would run as root");
  else if (!/^[1-9][0-9]*(:[0-9]+)?$/.test(user))
    problems.push(`USER ${user}: use a non-zero numeric uid, so that Kubernetes' runAsNonRoot can verify it`);
  const exposed = last("EXPOSE");
  const healthcheck = last("HEALTHCHECK");
  if (healthcheck === undefined) problems.push("no HEALTHCHECK");
  else {
    const command = words(healthcheck.replace(/^(?:--\S+\s+)*CMD\s+/, ""));
    const url = /http:\/\/127\.0\.0\.1:(\d+)(\/\w+)/.exec(healthcheck);
    if (url?.[2] !== "/healthz") problems.push("the HEALTHCHECK does not ask /healthz");
    if (url?.[1] !== exposed) problems.push(`the HEALTHCHECK asks port ${url?.[1]}, EXPOSE says ${exposed}`);
    if (command[0] === "node" && command[1] === "-e") {
      try {
        new Script(command[2]!);
      } catch (error) {
        problems.push(`the HEALTHCHECK's script does not compile: ${String(error)}`);
      }
    }
  }
  const entrypoint = last("ENTRYPOINT");
  const bin = Object.values(packageJson.bin)[0]!;
  if (entrypoint === undefined || JSON.stringify(words(entrypoint)) !== JSON.stringify(["node", bin]))
    problems.push(`ENTRYPOINT should start package.json's bin: ["node", "${bin}"]`);
  return problems;
}

const dockerfile = read("deploy/Dockerfile");

test("deploy/Dockerfile: every COPY source exists and reaches the build context, every npm run is a script", () => {
  assert.deepEqual(dockerfileProblems(dockerfile, "."), []);
  const [build, runtime] = stages(dockerfile);
  assert.equal(stages(dockerfile).length, 2, "a build stage and a runtime stage");
  assert.equal(build!.name, "build");
  // Dev dependencies are used to build and pruned before node_modules reaches the runtime stage.
  const runs = build!.instructions.filter((i) => i.keyword === "RUN").map((i) => i.args);
  const pruneAt = runs.findIndex((r) => /npm prune --omit=dev/.test(r));
  assert.ok(pruneAt > runs.findIndex((r) => /npm run build/.test(r)), "npm prune --omit=dev after the build");
  assert.ok(
    runtime!.instructions.every((i) => i.keyword !== "RUN"),
    "nothing is installed in the runtime stage",
  );
});

test("deploy/Dockerfile: the checks find a missing source, an unknown script and a stage output nobody makes", () => {
  const broken = [
    dockerfile.replace("COPY src ./src", "COPY sources ./src"),
    dockerfile.replace("RUN npm run build", "RUN npm run compile"),
    dockerfile.replace("COPY --from=build /app/dist ./dist", "COPY --from=build /app/out ./dist"),
    dockerfile.replace("RUN npm run build", "RUN true"),
    dockerfile.replace("COPY package.json package-lock.json ./", "COPY package.json ./"),
  ];
  for (const text of broken) {
    assert.notEqual(text, dockerfile, "the mutation applies");
    assert.ok(dockerfileProblems(text, ".").length > 0, text);
  }
  assert.match(dockerfileProblems(broken[0]!, ".").join("\n"), /sources does not exist/);
  assert.match(dockerfileProblems(broken[1]!, ".").join("\n"), /compile is not a script/);
});

test(".dockerignore keeps every COPY source and leaves the rest of the checkout out", () => {
  const ignore = read(".dockerignore");
  for (const copy of copies(stages(dockerfile).at(-1)!).filter((c) => c.from === undefined))
    for (const source of copy.sources) assert.equal(ignoredBy(ignore, source), false, source);
  for (const local of [
    "node_modules/pg/package.json",
    "dist/cli/main.js",
    ".stack/kafka-data/x",
    ".git/HEAD",
    "bench/results/copy.json",
    "test/unit/cli.test.ts",
  ])
    assert.equal(ignoredBy(ignore, local), true, `${local} stays out of the build context`);
  assert.equal(ignoredBy(ignore, "src/cli/main.ts"), false);
  // The matcher itself: the last matching pattern wins; * stays within a segment.
  assert.equal(ignoredBy("*\n!a/b", "a/b/c"), false);
  assert.equal(ignoredBy("a/*.md", "a/b/c.md"), false);
  assert.equal(ignoredBy("a/**/*.md", "a/b/c.md"), true);
  const broken = `${ignore}\nconfig\n`;
  assert.match(dockerfileProblems(dockerfile, ".", broken).join("\n"), /leaves config out/);
});

test("deploy/Dockerfile: the runtime stage is non-root, checks /healthz, starts the bin with the mounted config", () => {
  assert.deepEqual(runtimeProblems(dockerfile), []);
  const runtime = stages(dockerfile).at(-1)!;
  const cmd = words(runtime.instructions.find((i) => i.keyword === "CMD")!.args);
  assert.deepEqual(cmd, ["run", "--config", "/etc/shadowdb/config.yaml"]);
  // The node major of the base image satisfies package.json engines and is a supported LTS line.
  const major = Number(/^node:(\d+)/.exec(runtime.image)?.[1]);
  assert.ok(major >= Number(/>=\s*(\d+)/.exec(packageJson.engines.node)?.[1]), runtime.image);
  assert.deepEqual(baseImageProblems(runtime.image), []);
  assert.equal(stages(dockerfile)[0]!.image, runtime.image, "both stages on the same Node");
  assert.ok(baseImageProblems("node:20-bookworm-slim").length > 0, "node 20 is found");

  for (const [from, to] of [
    ["USER 1000:1000", "USER node"],
    ["USER 1000:1000", "USER 0"],
    ["8080/healthz", "8080/readyz"],
    ["EXPOSE 8080", "EXPOSE 9090"],
    ['ENTRYPOINT ["node", "dist/cli/main.js"]', 'ENTRYPOINT ["node", "dist/main.js"]'],
    ['process.exit(1))"]', 'process.exit(1)"]'],
  ] as const) {
    const broken = dockerfile.replace(from, to);
    assert.notEqual(broken, dockerfile, from);
    assert.ok(runtimeProblems(broken).length > 0, `${from} → ${to} is found`);
  }
  assert.ok(runtimeProblems(dockerfile.replace(/^USER .*$/m, "")).some((p) => /root/.test(p)));
});

test("deploy/Dockerfile: the image carries package.json and every entry of its files", () => {
  const runtime = stages(dockerfile).at(-1)!;
  const destinations = copies(runtime).flatMap((c) => c.targets.map((t) => path.posix.relative("/app", t)));
  for (const entry of ["package.json", ...packageJson.files])
    assert.ok(destinations.includes(entry), `${entry} is copied into /app`);
  // The prod node_modules and the compiled dist/ come from the build stage.
  assert.deepEqual(
    copies(runtime)
      .filter((c) => c.from === "build")
      .map((c) => c.sources[0]),
    ["/app/node_modules", `/app/${outDir()}`],
  );
  assert.equal(Object.values(packageJson.bin)[0], `${outDir()}/cli/main.js`);
});

test("the compose story's sample service Dockerfile passes the same checks", () => {
  const sample = read("deploy/compose/sample/Dockerfile");
  assert.deepEqual(dockerfileProblems(sample, "deploy/compose/sample"), []);
  const runtime = stages(sample).at(-1)!;
  assert.deepEqual(baseImageProblems(runtime.image), []);
  const user = runtime.instructions.filter((i) => i.keyword === "USER").at(-1)?.args;
  assert.match(user ?? "", /^[1-9][0-9]*(:[0-9]+)?$/);
  assert.match(runtime.instructions.find((i) => i.keyword === "HEALTHCHECK")?.args ?? "", /8080\/healthz/);
  assert.ok(
    dockerfileProblems(sample.replace("COPY server.mjs", "COPY main.mjs"), "deploy/compose/sample").length >
      0,
  );
  // Its lockfile pins what its package.json asks for.
  const manifest = JSON.parse(read("deploy/compose/sample/package.json")) as {
    dependencies: Record<string, string>;
  };
  const lock = JSON.parse(read("deploy/compose/sample/package-lock.json")) as {
    packages: Record<string, { version?: string; dependencies?: Record<string, string> }>;
  };
  assert.deepEqual(lock.packages[""]?.dependencies, manifest.dependencies);
  for (const [name, version] of Object.entries(manifest.dependencies))
    assert.equal(lock.packages[`node_modules/${name}`]?.version, version);
});
