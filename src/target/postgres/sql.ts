import type { QualifiedName } from "../dialect.ts";

/** Identifiers are validated against the config before they get here; quoting is the second wall. */
export function ident(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** An empty schema means the session's default (search_path / the URL's database). */
export function qualified(name: QualifiedName): string {
  return name.schema === "" ? ident(name.name) : `${ident(name.schema)}.${ident(name.name)}`;
}

/**
 * A column's type without its length/precision modifiers, for casting parameters. An explicit
 * cast to varchar(n), char(n) or bit(n) silently cuts a value that is too long; the insert's own
 * assignment then enforces the column's modifiers and refuses it, as production's would have.
 */
export function castType(sqlType: string): string {
  const bare = sqlType.replace(/\(\d+(?:,\s*-?\d+)?\)/g, "");
  // Without a length, bit and character mean length 1: their varying forms take any length.
  return bare.replace(/^(bit|character)(?=$|\[)/, "$1 varying");
}
