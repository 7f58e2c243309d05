/**
 * The `shadowdb` command. Each sub-command lands with its issue; until then it says so and exits
 * non-zero, so no script can mistake a placeholder for a working command.
 */
import { readFileSync } from "node:fs";
import { ShadowdbError } from "../errors.ts";

interface Command {
  usage: string;
  summary: string;
}

export const commands: Record<string, Command> = {
  run: {
    usage: "run --config FILE",
    summary: "consume Debezium topics and keep the shadow database current",
  },
  check: {
    usage: "check --config FILE",
    summary: "validate config, connectivity, privileges and source prerequisites",
  },
  status: {
    usage: "status --config FILE",
    summary: "per-table counts, lag, positions, overlay sizes, dead letters",
  },
  diff: {
    usage: "diff --config FILE [--table T] [--format json|text]",
    summary: "overlay rows against production",
  },
  reset: {
    usage: "reset --config FILE [--table T] [--key JSON]",
    summary: "restore overlay rows to production",
  },
  overlay: {
    usage: "overlay install|uninstall --config FILE [--table T]",
    summary: "create or remove the copy-on-write overlay (tables stay intact)",
  },
  decode: {
    usage: "decode [--key FILE] [--topic T] [FILE | -]",
    summary: "print what shadowdb makes of one message",
  },
  demo: { usage: "demo", summary: "the embedded default: a demo that needs no servers" },
};

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
    version: string;
  };
  return pkg.version;
}

export function helpText(): string {
  const width = Math.max(...Object.values(commands).map((c) => c.usage.length));
  const lines = Object.values(commands).map((c) => `  shadowdb ${c.usage.padEnd(width)}  ${c.summary}`);
  return [
    "shadowdb: a writable shadow database that tracks production through Debezium change events",
    "",
    "usage:",
    ...lines,
    "",
    "  shadowdb --help | --version",
  ].join("\n");
}

const implemented: Record<string, (argv: string[]) => Promise<number>> = {
  decode: async (argv) => (await import("./decode.ts")).decodeCommand(argv),
  run: async (argv) => (await import("./run.ts")).runCommand(argv),
  overlay: async (argv) => (await import("./overlay.ts")).overlayCommand(argv),
  reset: async (argv) => (await import("./reset.ts")).resetCommand(argv),
  diff: async (argv) => (await import("./diff.ts")).diffCommand(argv),
};

export async function main(argv: string[]): Promise<number> {
  const [name] = argv;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    console.log(helpText());
    return name === undefined ? 2 : 0;
  }
  if (name === "--version" || name === "-v") {
    console.log(version());
    return 0;
  }
  const command = commands[name];
  if (!command) {
    console.error(`shadowdb: unknown command '${name}'\n\n${helpText()}`);
    return 2;
  }
  const run = implemented[name];
  if (run) {
    try {
      return await run(argv.slice(1));
    } catch (error) {
      // Typed errors are the user's to fix (config, connectivity): say which, without a stack.
      if (!(error instanceof ShadowdbError)) throw error;
      console.error(`shadowdb ${name}: ${error.code}: ${error.message}`);
      return 2;
    }
  }
  console.error(`shadowdb ${name}: not implemented yet`);
  return 1;
}
