/**
 * The names of a table's overlay objects, the same for both dialects and for every command that
 * needs them (run, overlay install/uninstall, reset, diff): derived from the table's name alone.
 * Identifiers stay within 63 characters (PostgreSQL's limit; MySQL allows 64).
 */
import { createHash } from "node:crypto";
import type { OverlayNames, QualifiedName } from "../target/dialect.ts";

const LIMIT = 63;

function shortened(prefix: string, name: string): string {
  const whole = `${prefix}${name}`;
  if (whole.length <= LIMIT) return whole;
  const hash = createHash("sha1").update(name).digest("hex").slice(0, 8);
  return `${prefix}${name.slice(0, LIMIT - prefix.length - hash.length - 1)}_${hash}`;
}

export function overlayNames(table: QualifiedName): OverlayNames {
  const at = (name: string): QualifiedName => ({ schema: table.schema, name });
  return {
    table,
    owned: at(shortened("shadowdb_own_", table.name)),
    copy: at(shortened("shadowdb_prod_", table.name)),
    trigger: (event) => shortened(`shadowdb_${event}_`, table.name),
  };
}
