/**
 * The text a MySQL/MariaDB seed moves: each value as the source prints it, in LOAD DATA's
 * tab-separated form. Values whose printed form is not exact or not text travel as other text,
 * read by one expression on the source and written back by its inverse on the target: bytes and
 * spatial values (their stored form) as hex, BIT as its number, FLOAT widened to DOUBLE (MariaDB
 * prints a FLOAT with six digits, a DOUBLE with every digit it needs).
 */
import { ident } from "./sql.ts";

type Transport = "text" | "hex" | "bit" | "float";

/** How a column of this COLUMN_TYPE (`varbinary(16)`, `bit(3)`, `float unsigned`…) travels. */
export function transportOf(columnType: string): Transport {
  const word = /^[a-z]+/.exec(columnType.toLowerCase())?.[0] ?? "";
  if (/^(binary|varbinary|tinyblob|blob|mediumblob|longblob)$/.test(word)) return "hex";
  if (
    /^(geometry|point|linestring|polygon|multipoint|multilinestring|multipolygon|geometrycollection|geomcollection)$/.test(
      word,
    )
  )
    return "hex";
  if (word === "bit") return "bit";
  if (word === "float") return "float";
  return "text";
}

/** The source's SELECT expression for a column. */
export function readExpression(column: string, columnType: string): string {
  const c = ident(column);
  switch (transportOf(columnType)) {
    case "hex":
      return `HEX(${c})`;
    case "bit":
      return `CAST(${c} AS UNSIGNED)`;
    case "float":
      return `CAST(${c} AS DOUBLE)`;
    case "text":
      return c;
  }
}

/**
 * LOAD DATA's column list and SET clause for the target's columns: a column that travels as hex
 * goes through a user variable and UNHEX; the others load as they are (a BIT column takes the
 * number, a FLOAT the double's text).
 */
export function loadColumns(columns: { name: string; columnType: string }[]): { list: string; set: string } {
  const list: string[] = [];
  const set: string[] = [];
  columns.forEach((c, i) => {
    const variable = `@v${i}`;
    const value = writeExpression(variable, transportOf(c.columnType));
    if (value === undefined) list.push(ident(c.name));
    else {
      list.push(variable);
      set.push(`${ident(c.name)} = ${value}`);
    }
  });
  return { list: `(${list.join(", ")})`, set: set.length > 0 ? ` SET ${set.join(", ")}` : "" };
}

/** readExpression's inverse on the target, for a column loaded through `variable`; none for text. */
function writeExpression(variable: string, transport: Transport): string | undefined {
  switch (transport) {
    case "hex":
      return `UNHEX(${variable})`;
    case "bit":
      return `CAST(${variable} AS UNSIGNED)`;
    case "float":
    case "text":
      return undefined;
  }
}

const special = /[\\\t\n]/;

/** One field of LOAD DATA text (FIELDS TERMINATED BY '\t' ESCAPED BY '\\'): `\N` is NULL. */
export function loadField(value: string | null): string {
  if (value === null) return "\\N";
  return special.test(value)
    ? value.replace(/[\\\t\n]/g, (c) => (c === "\t" ? "\\t" : c === "\n" ? "\\n" : "\\\\"))
    : value;
}

/** The LOAD DATA clauses that read loadField's text. */
export const LOAD_FORMAT =
  "CHARACTER SET utf8mb4 FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n'";
