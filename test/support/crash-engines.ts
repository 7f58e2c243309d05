/** The crash test's two engines, shared by the crash tests and the soak script (bench/soak.ts). */
import type { CrashEngine } from "./crash.ts";
import { connectMariadb, connectPostgres } from "./engines.ts";
import type { Services } from "./services.ts";

export function postgresCrashEngine(env: Services): CrashEngine {
  return {
    name: "postgres",
    dialect: "postgres",
    brokers: env.SHADOWDB_KAFKA_BROKERS,
    shadowUrl: env.SHADOWDB_PG_SHADOW_URL,
    topic: (table) => `${env.SHADOWDB_PG_TOPIC_PREFIX}.public.${table}`,
    target: (table) => `public.${table}`,
    deadLetterTable: "public.shadowdb_dead_letters",
    connectProd: () => connectPostgres(env.SHADOWDB_PG_PROD_URL),
    connectShadow: () => connectPostgres(env.SHADOWDB_PG_SHADOW_URL),
    param: (i) => `$${i}`,
    updateSql: (table, tag, from, to) =>
      `UPDATE ${table} SET version = version + 1, payload = '${tag}-' || md5(random()::text) WHERE id BETWEEN ${from} AND ${to}`,
    selectSql: (table) =>
      `SELECT id::text AS id, version::text AS version, payload FROM ${table} ORDER BY id`,
  };
}

export function mariadbCrashEngine(env: Services): CrashEngine {
  return {
    name: "mariadb",
    dialect: "mysql",
    brokers: env.SHADOWDB_KAFKA_BROKERS,
    shadowUrl: env.SHADOWDB_MY_SHADOW_URL,
    topic: (table) => `${env.SHADOWDB_MY_TOPIC_PREFIX}.prod.${table}`,
    target: (table) => `shadow.${table}`,
    deadLetterTable: "shadow.shadowdb_dead_letters",
    connectProd: () => connectMariadb(env.SHADOWDB_MY_PROD_URL),
    connectShadow: () => connectMariadb(env.SHADOWDB_MY_SHADOW_URL),
    param: () => "?",
    updateSql: (table, tag, from, to) =>
      `UPDATE ${table} SET version = version + 1, payload = CONCAT('${tag}-', MD5(RAND())) WHERE id BETWEEN ${from} AND ${to}`,
    selectSql: (table) =>
      `SELECT CAST(id AS CHAR) AS id, CAST(version AS CHAR) AS version, payload FROM ${table} ORDER BY id`,
  };
}
