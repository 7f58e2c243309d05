/**
 * `shadowdb diff --config F [--table T] [--format json|text]`: owned rows against production, in
 * the tables F maps (or T).
 * Exit code as diff(1): 0 no differences, 1 differences, 2 trouble.
 */
import { parseArgs } from "node:util";
import { diffJson, diffOverlays } from "../overlay/admin.ts";
import { diffText } from "../overlay/diff-text.ts";
import { openTarget } from "./target.ts";

export async function diffCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      config: { type: "string" },
      table: { type: "string" },
      format: { type: "string", default: "text" },
    },
  });
  if (!values.config || (values.format !== "json" && values.format !== "text")) {
    console.error("usage: shadowdb diff --config FILE [--table schema.table] [--format json|text]");
    return 2;
  }
  const { config, target } = await openTarget(values.config);
  try {
    const diffs = await diffOverlays(config, target, values.table);
    console.log(values.format === "json" ? JSON.stringify(diffJson(diffs), null, 2) : diffText(diffs));
    return diffs.some((d) => d.rows.length > 0) ? 1 : 0;
  } finally {
    await target.close();
  }
}
