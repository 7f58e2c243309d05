/**
 * What `shadowdb connectors apply` asks Kafka Connect, one connector at a time:
 * - validate: `PUT /connector-plugins/{connector.class}/config/validate` with the whole config
 *   (name and connector.class included). Connect answers per setting (`configs[].value.errors`),
 *   and Debezium adds its own checks, some of which connect to the database.
 * - apply: `PUT /connectors/{name}/config`, which creates the connector or replaces its config,
 *   then `GET /connectors/{name}/status` until it and all its tasks are RUNNING, or one is FAILED,
 *   or the time is up.
 * Every value or text that leaves here for printing has gone through secrets.ts.
 */
import type { ConnectorFile } from "./files.ts";
import type { ConnectAnswer, ConnectRest } from "./rest.ts";
import { scrubber, shownValue } from "./secrets.ts";

export interface SettingError {
  setting: string;
  /** The value sent, as it may be shown. */
  value: string;
  errors: string[];
}

export type Validation =
  | { kind: "valid"; checked: number }
  | { kind: "invalid"; errors: SettingError[] }
  /** Connect did not validate at all (unknown plugin, bad request): its status and message. */
  | { kind: "refused"; status: number; message: string };

interface ValidateBody {
  error_count?: number;
  configs?: { value?: { name?: string; errors?: string[] } }[];
}

export async function validateConnector(rest: ConnectRest, file: ConnectorFile): Promise<Validation> {
  const scrub = scrubber(file.config);
  const plugin = encodeURIComponent(file.config["connector.class"]!);
  const answer = await rest.request<ValidateBody>("PUT", `/connector-plugins/${plugin}/config/validate`, {
    ...file.config,
    name: file.name,
  });
  if (answer.status !== 200 || !Array.isArray(answer.body?.configs)) return refused(answer, scrub);
  const errors: SettingError[] = [];
  for (const { value } of answer.body.configs) {
    const messages = (value?.errors ?? []).filter((e) => typeof e === "string" && e !== "");
    if (messages.length === 0 || value?.name === undefined) continue;
    errors.push({
      setting: value.name,
      value: shownValue(value.name, file.config[value.name]),
      errors: messages.map(scrub),
    });
  }
  // error_count and the listed errors agree in Connect's code; trust the list, but never call a
  // config with a positive count valid.
  if (errors.length === 0 && (answer.body.error_count ?? 0) > 0) {
    errors.push({
      setting: "(config)",
      value: "",
      errors: [`Connect counted ${answer.body.error_count} error(s) without naming a setting`],
    });
  }
  return errors.length > 0
    ? { kind: "invalid", errors }
    : { kind: "valid", checked: answer.body.configs.length };
}

function refused(answer: ConnectAnswer<unknown>, scrub: (text: string) => string): Validation {
  return {
    kind: "refused",
    status: answer.status,
    message: scrub(answer.message ?? "no message"),
  };
}

export type Change =
  | { kind: "created" }
  | { kind: "updated"; settings: string[] }
  | { kind: "unchanged" }
  | { kind: "refused"; status: number; message: string };

/** Creates the connector, or replaces its config; says which settings changed (names only). */
export async function putConnector(rest: ConnectRest, file: ConnectorFile): Promise<Change> {
  const route = `/connectors/${encodeURIComponent(file.name)}`;
  const before = await rest.request<Record<string, string>>("GET", `${route}/config`);
  const wanted = { ...file.config, name: file.name };
  let answer = await rest.request<unknown>("PUT", `${route}/config`, wanted);
  // 409: the worker group is rebalancing; Connect asks to try again.
  for (let attempt = 0; answer.status === 409 && attempt < 20; attempt++) {
    await sleep(500);
    answer = await rest.request<unknown>("PUT", `${route}/config`, wanted);
  }
  if (answer.status !== 200 && answer.status !== 201) {
    return { kind: "refused", status: answer.status, message: scrubber(file.config)(answer.message ?? "") };
  }
  if (before.status === 404 || answer.status === 201) return { kind: "created" };
  const old = before.body ?? {};
  const changed = [...new Set([...Object.keys(old), ...Object.keys(wanted)])]
    .filter((key) => old[key] !== wanted[key as keyof typeof wanted])
    .sort();
  return changed.length === 0 ? { kind: "unchanged" } : { kind: "updated", settings: changed };
}

interface StatusBody {
  connector?: { state?: string; trace?: string };
  tasks?: { id: number; state?: string; trace?: string }[];
}

export interface Outcome {
  /** HELD: PAUSED or STOPPED by someone; an apply does not resume it. */
  state: "RUNNING" | "FAILED" | "TIMEOUT" | "HELD";
  /** e.g. "RUNNING, task 0 RUNNING", as last seen. */
  summary: string;
  /** FAILED: the first lines of the failure's trace (secrets cut out). */
  trace?: string;
}

/**
 * Waits until the connector and all its tasks run, or something FAILED, for at most `timeoutMs`.
 * After an update the old tasks may still report RUNNING for a moment, so it first waits until
 * the tasks carry the changed settings (Debezium hands its tasks the connector's whole config).
 * A connector that was FAILED before this apply stays FAILED when its config did not change, so
 * a FAILED seen then is restarted once; what fails after that is genuine. Best effort: Connect's
 * status has no generation number, and a task may fail later for reasons of its own.
 */
export async function waitUntilRunning(
  rest: ConnectRest,
  file: ConnectorFile,
  change: Change,
  timeoutMs: number,
  intervalMs = 500,
): Promise<Outcome> {
  const route = `/connectors/${encodeURIComponent(file.name)}`;
  const scrub = scrubber(file.config);
  const deadline = Date.now() + timeoutMs;
  if (change.kind === "updated") {
    const wanted: Record<string, string> = { ...file.config, name: file.name };
    // Connectors that do not hand their config to their tasks never match: give up after 15 s.
    const tasksDeadline = Math.min(deadline, Date.now() + 15_000);
    for (;;) {
      const tasks = await rest.request<{ config?: Record<string, string> }[]>("GET", `${route}/tasks`);
      const current =
        tasks.status === 200 &&
        (tasks.body ?? []).length > 0 &&
        (tasks.body ?? []).every((t) => change.settings.every((key) => t.config?.[key] === wanted[key]));
      if (current || Date.now() >= tasksDeadline) break;
      await sleep(intervalMs);
    }
  }
  const first = await rest.request<StatusBody>("GET", `${route}/status`);
  if (
    change.kind === "unchanged" &&
    first.status === 200 &&
    states(first.body).some((s) => s.state === "FAILED")
  ) {
    await rest.request("POST", `${route}/restart?includeTasks=true&onlyFailed=true`);
  }
  let summary = "no status yet";
  for (;;) {
    const answer = await rest.request<StatusBody>("GET", `${route}/status`);
    if (answer.status === 200 && answer.body !== undefined) {
      const body = answer.body;
      summary = describe(body);
      const failed = states(body).find((s) => s.state === "FAILED");
      if (failed) return { state: "FAILED", summary, trace: firstLines(scrub(failed.trace ?? "")) };
      if (body.connector?.state === "PAUSED" || body.connector?.state === "STOPPED") {
        return { state: "HELD", summary };
      }
      const tasks = body.tasks ?? [];
      if (
        body.connector?.state === "RUNNING" &&
        tasks.length > 0 &&
        tasks.every((t) => t.state === "RUNNING")
      ) {
        return { state: "RUNNING", summary };
      }
    }
    if (Date.now() >= deadline) return { state: "TIMEOUT", summary };
    await sleep(intervalMs);
  }
}

function states(body: StatusBody | undefined): { state?: string; trace?: string }[] {
  return [body?.connector ?? {}, ...(body?.tasks ?? [])];
}

function describe(body: StatusBody): string {
  const tasks = (body.tasks ?? []).map((t) => `task ${t.id} ${t.state ?? "?"}`);
  return [body.connector?.state ?? "?", ...(tasks.length === 0 ? ["no tasks"] : tasks)].join(", ");
}

/** A Java trace without its `at …` frames: the exception messages, caused-by chain included. */
function firstLines(trace: string, max = 8): string {
  return trace
    .split("\n")
    .filter((line) => line.trim() !== "" && !/^\s+at |^\s+\.\.\. \d+ more/.test(line))
    .slice(0, max)
    .join("\n");
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
