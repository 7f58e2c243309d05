/**
 * Debezium 3.5.0's read-only incremental snapshots can kill their own task: on PostgreSQL with a
 * NullPointerException in IncrementalSnapshotNotificationService.notifyInProgress, on MariaDB with
 * a ConcurrentModificationException in binlog processing while production writes (each seen once
 * in a full CI run, 2026-12-07; the connector's trace says so). Those are Debezium's crashes, not
 * shadowdb's: these helpers let a test tell that a task died and bring it back, so that one
 * upstream crash does not fail every later test that needs the connector.
 */
import { rest } from "../../stack/connect.ts";

interface Status {
  connector: { state: string; trace?: string };
  tasks: { id: number; state: string; trace?: string }[];
}

/** The FAILED connectors and tasks of the worker at `connectUrl`, with their traces. */
export async function failedConnectors(connectUrl: string): Promise<{ name: string; trace: string }[]> {
  const failed: { name: string; trace: string }[] = [];
  const names = await rest<string[]>("GET", "/connectors", undefined, connectUrl);
  for (const name of names.json ?? []) {
    const { json } = await rest<Status>("GET", `/connectors/${name}/status`, undefined, connectUrl);
    for (const s of [json.connector, ...json.tasks])
      if (s.state === "FAILED") failed.push({ name, trace: s.trace ?? "" });
  }
  return failed;
}

/** Restarts every FAILED connector and task and waits until they run again; returns their names. */
export async function restartFailedConnectors(connectUrl: string, timeoutMs = 60_000): Promise<string[]> {
  const names = [...new Set((await failedConnectors(connectUrl)).map((f) => f.name))];
  for (const name of names)
    await rest(
      "POST",
      `/connectors/${name}/restart?includeTasks=true&onlyFailed=true`,
      undefined,
      connectUrl,
    );
  const deadline = Date.now() + timeoutMs;
  for (const name of names) {
    for (;;) {
      const { json } = await rest<Status>("GET", `/connectors/${name}/status`, undefined, connectUrl);
      const states = [json.connector, ...json.tasks].map((s) => s.state);
      if (json.tasks.length > 0 && states.every((s) => s === "RUNNING")) break;
      if (Date.now() > deadline) throw new Error(`connector ${name} did not run again: ${states.join(", ")}`);
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
  return names;
}
