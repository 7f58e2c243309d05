/** Removes the overlays a test's run installed (overlay.enabled is the default), before its tables go. */
import { overlayNames } from "../../src/overlay/names.ts";
import type { QualifiedName } from "../../src/target/dialect.ts";
import { loadDialect } from "../../src/target/load.ts";

export async function uninstallOverlays(
  dialect: "postgres" | "mysql",
  url: string,
  tables: QualifiedName[],
): Promise<void> {
  const module = await loadDialect(dialect);
  const target = new module.Target(url);
  try {
    await target.prepare();
    for (const table of tables) await target.uninstallOverlay(overlayNames(table));
  } finally {
    await target.close();
  }
}
