import { spawn } from "node:child_process";
import { closeSync, openSync } from "node:fs";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { dirs, stackDir } from "./layout.ts";

export type Component = "kafka" | "connect" | "registry";

const pidFile = (name: Component) => path.join(dirs.run, `${name}.pid`);
export const logFile = (name: Component) => path.join(dirs.logs, `${name}.log`);

/**
 * A JVM carries `-Dshadowdb.stack=<dir>:<name>` so that a pid file left behind after a
 * reboot can never make `down` kill an unrelated process that reused the pid.
 */
const marker = (name: Component) => `-Dshadowdb.stack=${stackDir}:${name}`;

async function cmdline(pid: number): Promise<string | undefined> {
  try {
    return (await readFile(`/proc/${pid}/cmdline`, "utf8")).split("\0").join(" ");
  } catch {
    return undefined;
  }
}

/** The pid of our running component, if any. */
export async function runningPid(name: Component): Promise<number | undefined> {
  const raw = await readFile(pidFile(name), "utf8").catch(() => undefined);
  if (!raw) return undefined;
  const pid = Number.parseInt(raw, 10);
  const cmd = await cmdline(pid);
  return cmd?.includes(marker(name)) ? pid : undefined;
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export async function startJava(
  name: Component,
  opts: { mainClass: string; args: string[]; heap: string; jvmArgs?: string[] },
): Promise<number> {
  await mkdir(dirs.logs, { recursive: true });
  await mkdir(dirs.run, { recursive: true });
  const log = openSync(logFile(name), "a");
  const child = spawn(
    "java",
    [
      marker(name),
      `-Xmx${opts.heap}`,
      "-XX:+UseSerialGC",
      "-Djava.awt.headless=true",
      `-Dlog4j2.configurationFile=${path.join(dirs.conf, "log4j2.properties")}`,
      ...(opts.jvmArgs ?? []),
      "-cp",
      `${dirs.lib}/*`,
      opts.mainClass,
      ...opts.args,
    ],
    { detached: true, stdio: ["ignore", log, log], cwd: stackDir },
  );
  closeSync(log);
  child.unref();
  if (child.pid === undefined) throw new Error(`could not start ${name}`);
  await writeFile(pidFile(name), `${child.pid}\n`);
  return child.pid;
}

/** A Node.js component (the schema registry), run by tsx like the rest of stack/, marked like a JVM. */
export async function startNode(name: Component, script: string, args: string[]): Promise<number> {
  await mkdir(dirs.logs, { recursive: true });
  await mkdir(dirs.run, { recursive: true });
  const log = openSync(logFile(name), "a");
  const child = spawn(
    process.execPath,
    ["--import", import.meta.resolve("tsx"), script, ...args, marker(name)],
    {
      detached: true,
      stdio: ["ignore", log, log],
      cwd: stackDir,
    },
  );
  closeSync(log);
  child.unref();
  if (child.pid === undefined) throw new Error(`could not start ${name}`);
  await writeFile(pidFile(name), `${child.pid}\n`);
  return child.pid;
}

/** SIGTERM, then SIGKILL after a grace period; a clean stop lets Kafka skip log recovery next time. */
export async function stop(name: Component, graceMs = 30_000): Promise<boolean> {
  const pid = await runningPid(name);
  if (pid === undefined) {
    await rm(pidFile(name), { force: true });
    return false;
  }
  process.kill(pid, "SIGTERM");
  const deadline = Date.now() + graceMs;
  while (isAlive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
  if (isAlive(pid)) process.kill(pid, "SIGKILL");
  await rm(pidFile(name), { force: true });
  return true;
}
