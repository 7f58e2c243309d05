import type { QualifiedName } from "../dialect.ts";

/** Identifiers are validated against the config before they get here; quoting is the second wall. */
export function ident(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** An empty schema means the session's default (search_path / the URL's database). */
export function qualified(name: QualifiedName): string {
  return name.schema === "" ? ident(name.name) : `${ident(name.schema)}.${ident(name.name)}`;
}
