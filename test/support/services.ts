/**
 * Where integration tests get their real services from. One decision, made here only:
 * explicit environment (CI or a developer's own servers) > the project's local stack >
 * testcontainers when a Docker engine answers > a clear error saying how to get services.
 */
export const serviceVariables = [
  "SHADOWDB_KAFKA_BROKERS",
  "SHADOWDB_CONNECT_URL",
  "SHADOWDB_PG_PROD_URL",
  "SHADOWDB_PG_SHADOW_URL",
  "SHADOWDB_MY_PROD_URL",
  "SHADOWDB_MY_SHADOW_URL",
  "SHADOWDB_PG_TOPIC_PREFIX",
  "SHADOWDB_MY_TOPIC_PREFIX",
] as const;

export type Services = Record<(typeof serviceVariables)[number], string>;

export type ServiceSource =
  | { kind: "environment"; services: Services }
  | { kind: "local-stack" }
  | { kind: "testcontainers" }
  | { kind: "none"; reason: string };

export interface Surroundings {
  env: Record<string, string | undefined>;
  localStackRunning: boolean;
  dockerReachable: boolean;
}

export function chooseServiceSource({
  env,
  localStackRunning,
  dockerReachable,
}: Surroundings): ServiceSource {
  const present = serviceVariables.filter((name) => env[name]);
  if (present.length === serviceVariables.length) {
    return {
      kind: "environment",
      services: Object.fromEntries(present.map((n) => [n, env[n]!])) as Services,
    };
  }
  if (present.length > 0) {
    const missing = serviceVariables.filter((name) => !env[name]);
    return { kind: "none", reason: `partial service environment: ${missing.join(", ")} unset` };
  }
  if (localStackRunning) return { kind: "local-stack" };
  if (dockerReachable) return { kind: "testcontainers" };
  return {
    kind: "none",
    reason:
      "no services: run `npm run stack -- up` (or export the SHADOWDB_* variables, or start a Docker engine)",
  };
}
