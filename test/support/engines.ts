/**
 * The two source/target engines of the real stack behind one small interface, for integration
 * tests that run the same scenario on PostgreSQL and on MariaDB.
 */
import mysql, { type ResultSetHeader } from "mysql2/promise";
import pg from "pg";
import type { Sql } from "./crash.ts";
import type { Services } from "./services.ts";

export interface Engine {
  name: "postgres" | "mariadb";
  dialect: "postgres" | "mysql";
  brokers: string;
  shadowUrl: string;
  /** Debezium's topic prefix (topic.prefix). */
  prefix: string;
  /** The schema (PostgreSQL) or database (MariaDB) of the source tables. */
  sourceSchema: string;
  /** The schema or database of the target tables. */
  targetSchema: string;
  /** The Debezium topic of a source table. */
  topic(table: string): string;
  connectProd(): Promise<Sql>;
  connectShadow(): Promise<Sql>;
  /** Opens a read transaction that sees one consistent snapshot across statements. */
  snapshotBegin: string;
}

export async function connectPostgres(url: string): Promise<Sql> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  return {
    async query(text, params) {
      const result = await client.query(text, params);
      return { rows: result.rows, affected: result.rowCount ?? 0 };
    },
    end: () => client.end(),
  };
}

export async function connectMariadb(url: string): Promise<Sql> {
  const conn = await mysql.createConnection(url);
  return {
    async query(text, params) {
      const [result] = await conn.query(text, params);
      if (Array.isArray(result)) return { rows: result as Record<string, unknown>[], affected: 0 };
      return { rows: [], affected: (result as ResultSetHeader).affectedRows };
    },
    end: () => conn.end(),
  };
}

export function engines(env: Services): Engine[] {
  return [
    {
      name: "postgres",
      dialect: "postgres",
      brokers: env.SHADOWDB_KAFKA_BROKERS,
      shadowUrl: env.SHADOWDB_PG_SHADOW_URL,
      prefix: env.SHADOWDB_PG_TOPIC_PREFIX,
      sourceSchema: "public",
      targetSchema: "public",
      topic: (table) => `${env.SHADOWDB_PG_TOPIC_PREFIX}.public.${table}`,
      connectProd: () => connectPostgres(env.SHADOWDB_PG_PROD_URL),
      connectShadow: () => connectPostgres(env.SHADOWDB_PG_SHADOW_URL),
      snapshotBegin: "BEGIN ISOLATION LEVEL REPEATABLE READ",
    },
    {
      name: "mariadb",
      dialect: "mysql",
      brokers: env.SHADOWDB_KAFKA_BROKERS,
      shadowUrl: env.SHADOWDB_MY_SHADOW_URL,
      prefix: env.SHADOWDB_MY_TOPIC_PREFIX,
      sourceSchema: "prod",
      targetSchema: "shadow",
      topic: (table) => `${env.SHADOWDB_MY_TOPIC_PREFIX}.prod.${table}`,
      connectProd: () => connectMariadb(env.SHADOWDB_MY_PROD_URL),
      connectShadow: () => connectMariadb(env.SHADOWDB_MY_SHADOW_URL),
      snapshotBegin: "START TRANSACTION WITH CONSISTENT SNAPSHOT",
    },
  ];
}
