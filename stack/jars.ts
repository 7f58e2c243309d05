import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { dirs, repoRoot, stackDir } from "./layout.ts";
import { StackError } from "./wait.ts";

const pom = path.join(repoRoot, "stack", "pom.xml");
const converterManifest = path.join(
  repoRoot,
  "stack",
  "plugin-manifests",
  "apicurio-avro-converter",
  "META-INF",
  "services",
  "org.apache.kafka.connect.storage.Converter",
);
const stamp = path.join(stackDir, "jars.sha256");

/**
 * Resolves Kafka, Connect, the Debezium plugins and the Avro converter once per pom version. The
 * stamp is the hash of the pom and the manifest it packs, so a second `up` neither downloads nor even starts Maven; editing a pinned version
 * re-resolves into a clean folder.
 */
export async function ensureJars(log: (line: string) => void): Promise<"cached" | "resolved"> {
  const hash = createHash("sha256")
    .update(await readFile(pom))
    .update(await readFile(converterManifest))
    .digest("hex");
  const current = await readFile(stamp, "utf8").catch(() => "");
  if (current.trim() === hash && existsSync(dirs.lib) && existsSync(dirs.plugins)) return "cached";

  log("resolving Kafka, Connect and Debezium jars from Maven Central (stack/pom.xml)");
  await rm(dirs.lib, { recursive: true, force: true });
  await rm(dirs.plugins, { recursive: true, force: true });
  await rm(path.join(stackDir, "maven"), { recursive: true, force: true });
  const mvn = spawnSync("mvn", ["-B", "-q", "-f", pom, `-Dstack.dir=${stackDir}`, "package"], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
  });
  if (mvn.status !== 0) {
    const output = `${mvn.stdout ?? ""}${mvn.stderr ?? ""}`.split("\n").slice(-40).join("\n");
    throw new StackError(
      `mvn failed resolving stack/pom.xml (exit ${mvn.status ?? mvn.error?.message})`,
      output,
    );
  }
  await writeFile(stamp, `${hash}\n`);
  return "resolved";
}
