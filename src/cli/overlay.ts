/**
 * `shadowdb overlay install|uninstall --config F [--table T]`. Install covers the tables the
 * config maps by exact topic (a pattern's tables are overlaid by `run` as they appear, or name
 * one with --table); uninstall covers every installed overlay. Uninstall leaves the tables and
 * their rows as they are.
 */
import { parseArgs } from "node:util";
import { ShadowdbError } from "../errors.ts";
import { overlaidTables, tableArgument } from "../overlay/admin.ts";
import { overlayNames } from "../overlay/names.ts";
import type { QualifiedName } from "../target/dialect.ts";
import { openTarget } from "./target.ts";

const usage = "usage: shadowdb overlay install|uninstall --config FILE [--table schema.table]";

export async function overlayCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { config: { type: "string" }, table: { type: "string" } },
    allowPositionals: true,
  });
  const [action] = positionals;
  if ((action !== "install" && action !== "uninstall") || !values.config || positionals.length !== 1) {
    console.error(usage);
    return 2;
  }
  const { config, target } = await openTarget(values.config);
  try {
    if (action === "uninstall") {
      for (const table of await overlaidTables(target, values.table)) {
        await target.uninstallOverlay(overlayNames(table));
        console.log(`uninstalled the overlay of ${table.schema}.${table.name}`);
      }
      return 0;
    }
    const tables: QualifiedName[] =
      values.table !== undefined
        ? [tableArgument(values.table)]
        : config.tables.flatMap((t) => (t.topic === undefined ? [] : [tableArgument(t.table)]));
    for (const table of tables) {
      const name = `${table.schema}.${table.name}`;
      if (!(await target.describe(table))) {
        if (values.table !== undefined) throw new ShadowdbError("USAGE_INVALID", `${name} does not exist`);
        console.log(`${name} does not exist yet: run creates it and installs its overlay`);
        continue;
      }
      await target.installOverlay(overlayNames(table));
      console.log(`installed the overlay of ${name}`);
    }
    return 0;
  } finally {
    await target.close();
  }
}
