import { existsSync } from "node:fs";
import { stackEnv } from "../../stack/layout.ts";
import { runningPid } from "../../stack/processes.ts";
import { chooseServiceSource, type Services } from "./services.ts";

let cached: Promise<Services> | undefined;

function dockerReachable(): boolean {
  return Boolean(process.env.DOCKER_HOST) || existsSync("/var/run/docker.sock");
}

/**
 * The real services for this test process. A missing service is a failure, never a skip:
 * an integration test that silently did not run would read as green.
 */
export function services(): Promise<Services> {
  cached ??= (async () => {
    const source = chooseServiceSource({
      env: process.env,
      localStackRunning:
        (await runningPid("kafka")) !== undefined && (await runningPid("connect")) !== undefined,
      dockerReachable: dockerReachable(),
    });
    switch (source.kind) {
      case "environment":
        return source.services;
      case "local-stack":
        return stackEnv();
      case "testcontainers": {
        const { startContainers } = await import("./containers.ts");
        return startContainers();
      }
      case "none":
        throw new Error(source.reason);
    }
  })();
  return cached;
}
