/**
 * Reading Kafka Connect's REST API: every connector with its configuration and state, in one call
 * (`GET /connectors?expand=info&expand=status`). Credentials in the URL become a Basic header
 * (fetch refuses URLs that carry them); the configurations hold the connectors' own secrets
 * (database.password), so callers show only the settings they check.
 */
import { ShadowdbError } from "../errors.ts";

export interface ConnectorState {
  name: string;
  config: Record<string, string>;
  state: string;
  tasks: { id: number; state: string }[];
}

interface Expanded {
  info?: { config?: Record<string, string> };
  status?: { connector?: { state?: string }; tasks?: { id: number; state: string }[] };
}

export async function readConnectors(baseUrl: string, timeoutMs = 5000): Promise<ConnectorState[]> {
  const url = new URL(
    "connectors?expand=info&expand=status",
    baseUrl.endsWith("/") ? baseUrl : `${baseUrl}/`,
  );
  const headers: Record<string, string> = { accept: "application/json" };
  if (url.username !== "" || url.password !== "") {
    const user = decodeURIComponent(url.username);
    const password = decodeURIComponent(url.password);
    headers.authorization = `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;
    url.username = "";
    url.password = "";
  }
  const response = await fetch(url, { headers, signal: AbortSignal.timeout(timeoutMs) });
  if (!response.ok)
    throw new ShadowdbError(
      "CONNECT_ERROR_STATUS",
      `GET /connectors answered ${response.status} ${response.statusText}`,
    );
  const body = (await response.json()) as Record<string, Expanded>;
  return Object.entries(body)
    .map(([name, c]) => ({
      name,
      config: c.info?.config ?? {},
      state: c.status?.connector?.state ?? "UNKNOWN",
      tasks: c.status?.tasks ?? [],
    }))
    .sort((a, b) => a.name.localeCompare(b.name));
}
