/**
 * Names that the config hands to SQL and to Kafka. SQL names are quoted where they are used;
 * this narrower rule is defence in depth, and keeps names within PostgreSQL's 63-byte limit.
 */
export const identifierPattern = /^[A-Za-z_][A-Za-z0-9_$]{0,62}$/;
export const identifierRule = "a letter or _, then letters, digits, _ or $; at most 63 characters";

export type Dialect = "postgres" | "mysql";

export interface TableName {
  schema: string;
  name: string;
}

export function isIdentifier(text: string): boolean {
  return identifierPattern.test(text);
}

/** `"schema.table"` or `"database.table"`: what MySQL calls a schema is a database. */
export function tableNameForm(dialect: Dialect | undefined): string {
  if (dialect === "mysql") return '"database.table"';
  if (dialect === "postgres") return '"schema.table"';
  return '"schema.table" (PostgreSQL) or "database.table" (MySQL)';
}

/** The `expected …` text for a malformed table name, or undefined when it is two identifiers. */
export function tableNameProblem(text: string, dialect: Dialect | undefined): string | undefined {
  const parts = text.split(".");
  if (parts.length !== 2) return `expected ${tableNameForm(dialect)} (two identifiers)`;
  if (!parts.every(isIdentifier)) {
    return `expected ${tableNameForm(dialect)} whose parts are identifiers (${identifierRule})`;
  }
  return undefined;
}

export function parseTableName(text: string): TableName | undefined {
  const parts = text.split(".");
  const [schema, name] = parts;
  if (parts.length !== 2 || schema === undefined || name === undefined) return undefined;
  return isIdentifier(schema) && isIdentifier(name) ? { schema, name } : undefined;
}

/** Kafka's own rule for topic names; "." and ".." are reserved. */
export const topicNamePattern = /^(?!\.{1,2}$)[A-Za-z0-9._-]{1,249}$/;
export const topicNameRule = "a Kafka topic name: letters, digits, ., _ and -; at most 249 characters";
