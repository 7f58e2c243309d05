/**
 * A PostgreSQL server of the test's own (initdb in a temporary directory, on a free port), for
 * tests that stop, restart or freeze the target: the stack's shared server also holds production
 * and Debezium's slot, which must keep running.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

function binDir(): string {
  const root = "/usr/lib/postgresql";
  const versions = readdirSync(root)
    .filter((v) => /^\d+$/.test(v))
    .sort((a, b) => Number(b) - Number(a));
  if (versions.length === 0) throw new Error(`no PostgreSQL server binaries under ${root}`);
  return path.join(root, versions[0]!, "bin");
}

/** initdb and postgres refuse to run as root: run them as the `postgres` user then. */
function asServerUser(command: string, args: string[]): string {
  const [file, argv] =
    process.getuid?.() === 0 ? ["runuser", ["-u", "postgres", "--", command, ...args]] : [command, args];
  return execFileSync(file, argv, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

export class PrivatePostgres {
  private readonly dir = mkdtempSync(path.join(tmpdir(), "shadowdb-pg-"));
  private readonly data = path.join(this.dir, "data");
  private readonly bin = binDir();
  private frozen: number[] = [];

  constructor(readonly port: number) {
    chmodSync(this.dir, 0o777);
    asServerUser(path.join(this.bin, "initdb"), [
      "-D",
      this.data,
      "-A",
      "trust",
      "-U",
      "postgres",
      "--no-sync",
    ]);
  }

  get url(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/postgres`;
  }

  start(): void {
    asServerUser(path.join(this.bin, "pg_ctl"), [
      "-D",
      this.data,
      "-l",
      path.join(this.dir, "log"),
      "-w",
      "-o",
      `-p ${this.port} -c listen_addresses=127.0.0.1 -k ${this.dir} -c fsync=off`,
      "start",
    ]);
  }

  stop(): void {
    asServerUser(path.join(this.bin, "pg_ctl"), ["-D", this.data, "-m", "fast", "-w", "stop"]);
  }

  /** The postmaster and every backend, so that nothing answers: connections hang, not fail. */
  freeze(): void {
    const postmaster = Number(
      spawnSync("head", ["-n", "1", path.join(this.data, "postmaster.pid")], {
        encoding: "utf8",
      }).stdout.trim(),
    );
    const children = spawnSync("pgrep", ["-P", String(postmaster)], { encoding: "utf8" })
      .stdout.split("\n")
      .filter(Boolean)
      .map(Number);
    this.frozen = [postmaster, ...children];
    for (const pid of this.frozen) process.kill(pid, "SIGSTOP");
  }

  thaw(): void {
    for (const pid of this.frozen) process.kill(pid, "SIGCONT");
    this.frozen = [];
  }

  destroy(): void {
    if (this.frozen.length > 0) this.thaw();
    try {
      this.stop();
    } catch {
      // Already stopped.
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
