import path from "node:path";
import { dirs, ports, registryOrigin, repoRoot } from "../layout.ts";
import { isAlive, logFile, runningPid, startNode } from "../processes.ts";
import { waitFor } from "../wait.ts";

export const registryStateFile = () => path.join(dirs.registry, "registry.json");

/** Starts the stack's schema registry (before Connect: the Avro connectors register schemas at once). */
export async function startSchemaRegistry(): Promise<"started" | "running"> {
  if ((await runningPid("registry")) !== undefined) return "running";
  const pid = await startNode("registry", path.join(repoRoot, "stack", "registry", "main.ts"), [
    String(ports.registry),
    registryStateFile(),
  ]);
  // Any answer from its routes proves it listens; id 0 is never assigned.
  await waitFor(
    "schema registry",
    async () => {
      const response = await fetch(`${registryOrigin()}/apis/ccompat/v7/schemas/ids/0`, {
        signal: AbortSignal.timeout(2000),
      });
      return response.status === 404 ? true : undefined;
    },
    { timeoutMs: 30_000, intervalMs: 100, logFile: logFile("registry"), alive: () => isAlive(pid) },
  );
  return "started";
}
