/**
 * The `shadowdb` command: the help, rendered from the table of sub-commands (commands.ts), and
 * the dispatch. Every command answers `--help` / `-h` from that table before it runs, and every
 * command keeps one exit-code scheme (docs/cli.md): 0 success; 1 the command ran and found
 * something (differences, a failed check, a run stopped by a fatal error); 2 usage or config
 * error, or a typed error from the catalogue (src/errors.ts).
 */
import { readFileSync } from "node:fs";
import { ShadowdbError } from "../errors.ts";
import { commands } from "./commands.ts";

export { commands } from "./commands.ts";

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
    version: string;
  };
  return pkg.version;
}

export function helpText(): string {
  const lines = Object.values(commands).flatMap((c) => [`  shadowdb ${c.usage}`, `      ${c.summary}`]);
  return [
    "shadowdb: a writable shadow database that tracks production through Debezium change events",
    "",
    "usage:",
    ...lines,
    "",
    "  shadowdb --help | --version",
    "  shadowdb <command> --help    options and exit codes of one command",
    "",
    "exit codes: 0 success; 1 the command ran and found something (diff: differences, check: a",
    "failed check, run/demo: stopped on an error); 2 usage or config error, or a typed error (CODE: message)",
  ].join("\n");
}

/** `text` broken into lines of at most `width` characters, each starting with `indent`. */
function wrapped(text: string, width: number, indent = ""): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(/\s+/)) {
    if (line !== "" && indent.length + line.length + 1 + word.length > width) {
      lines.push(indent + line);
      line = word;
    } else line = line === "" ? word : `${line} ${word}`;
  }
  if (line !== "") lines.push(indent + line);
  return lines;
}

export function commandHelp(name: string): string {
  const c = commands[name]!;
  const flagWidth = Math.max(0, ...c.options.map(([flag]) => flag.length));
  return [
    `usage: shadowdb ${c.usage}`,
    "",
    ...wrapped(c.description, 100),
    ...(c.options.length === 0
      ? []
      : ["", "options:", ...c.options.map(([flag, meaning]) => `  ${flag.padEnd(flagWidth)}  ${meaning}`)]),
    "",
    "exit codes:",
    ...c.exits.map(([code, when]) => `  ${code}  ${when}`),
  ].join("\n");
}

const implemented: Record<string, (argv: string[]) => Promise<number>> = {
  run: async (argv) => (await import("./run.ts")).runCommand(argv),
  check: async (argv) => (await import("./check.ts")).checkCommand(argv),
  status: async (argv) => (await import("./status.ts")).statusCommand(argv),
  diff: async (argv) => (await import("./diff.ts")).diffCommand(argv),
  reset: async (argv) => (await import("./reset.ts")).resetCommand(argv),
  overlay: async (argv) => (await import("./overlay.ts")).overlayCommand(argv),
  seed: async (argv) => (await import("./seed.ts")).seedCommand(argv),
  resync: async (argv) => (await import("./resync.ts")).resyncCommand(argv),
  connectors: async (argv) => (await import("./connectors.ts")).connectorsCommand(argv),
  decode: async (argv) => (await import("./decode.ts")).decodeCommand(argv),
  demo: async (argv) => (await import("./demo.ts")).demoCommand(argv),
};

const wantsHelp = (args: string[]) => args.some((a) => a === "--help" || a === "-h");

/** node:util parseArgs refuses unknown or malformed options with these codes. */
const isArgumentError = (error: unknown) =>
  String((error as { code?: unknown } | null)?.code ?? "").startsWith("ERR_PARSE_ARGS_");

export async function main(argv: string[]): Promise<number> {
  const [name, ...args] = argv;
  if (name === "help" && args[0] !== undefined && commands[args[0]]) {
    console.log(commandHelp(args[0]));
    return 0;
  }
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    console.log(helpText());
    return name === undefined ? 2 : 0;
  }
  if (name === "--version" || name === "-v") {
    console.log(version());
    return 0;
  }
  const command = commands[name];
  const run = implemented[name];
  if (!command || !run) {
    console.error(`shadowdb: unknown command '${name}'\n\n${helpText()}`);
    return 2;
  }
  if (wantsHelp(args)) {
    console.log(commandHelp(name));
    return 0;
  }
  try {
    return await run(args);
  } catch (error) {
    if (isArgumentError(error)) {
      console.error(`shadowdb ${name}: ${(error as Error).message}\nusage: shadowdb ${command.usage}`);
      return 2;
    }
    // Typed errors are the user's to fix (config, connectivity): say which, without a stack.
    if (!(error instanceof ShadowdbError)) throw error;
    console.error(`shadowdb ${name}: ${error.code}: ${error.message}`);
    return 2;
  }
}
