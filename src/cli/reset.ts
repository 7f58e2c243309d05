/**
 * `shadowdb reset --config F [--table T] [--key JSON]`: owned rows take production's version
 * again and stop being owned; every installed overlay of a table the config maps, one table, or
 * one key of one table.
 * Online: apply may keep running (the dialects serialise reset and apply per table).
 */
import { parseArgs } from "node:util";
import { keyArgument, resetOverlays } from "../overlay/admin.ts";
import { openTarget } from "./target.ts";

export async function resetCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { config: { type: "string" }, table: { type: "string" }, key: { type: "string" } },
  });
  if (!values.config || (values.key !== undefined && values.table === undefined)) {
    console.error("usage: shadowdb reset --config FILE [--table schema.table [--key JSON]]");
    return 2;
  }
  const key = values.key === undefined ? undefined : keyArgument(values.key);
  const { config, target } = await openTarget(values.config);
  try {
    for (const { table, reset } of await resetOverlays(config, target, values.table, key)) {
      console.log(`${table}: ${reset} key(s) reset to production`);
    }
    return 0;
  } finally {
    await target.close();
  }
}
