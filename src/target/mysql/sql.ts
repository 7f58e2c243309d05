import type { QualifiedName } from "../dialect.ts";

/** Identifiers are validated against the config before they get here; quoting is the second wall. */
export function ident(name: string): string {
  return `\`${name.replaceAll("`", "``")}\``;
}

/** An empty schema means the session's default (search_path / the URL's database). */
export function qualified(name: QualifiedName): string {
  return name.schema === "" ? ident(name.name) : `${ident(name.schema)}.${ident(name.name)}`;
}

/** A parameter that names a schema, the session's database when it is empty (as `qualified` has it). */
export const schemaParam = "COALESCE(NULLIF(?, ''), DATABASE())";

/** `a.k1 = b.k1 AND …` over `columns`. */
export function matches(columns: string[], a: string, b: string): string {
  return columns.map((c) => `${a}.${ident(c)} = ${b}.${ident(c)}`).join(" AND ");
}
