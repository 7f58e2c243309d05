/**
 * The demo's config, written as a user would write it and validated by the same schema, so every
 * default is the real one. Kafka is never contacted: the recorded stream stands in for it.
 */
import { randomBytes } from "node:crypto";
import { type Config, parseConfig } from "../config/index.ts";

export interface DemoConfigOptions {
  databaseUrl: string;
  httpPort: number;
  adminToken: string;
}

/** A fresh admin token per run: the printout shows it, nothing else knows it. */
export function demoAdminToken(): string {
  return `demo-${randomBytes(12).toString("hex")}`;
}

export function demoConfig({ databaseUrl, httpPort, adminToken }: DemoConfigOptions): Config {
  const yaml = `
kafka:
  brokers: 127.0.0.1:9092
  groupId: shadowdb-demo
target:
  dialect: postgres
  url: ${JSON.stringify(databaseUrl)}
tables:
  - topicPattern: ^pgprod\\.public\\.(demo_.*)$
    table: public.$1
overlay:
  enabled: true
deadLetter:
  table: public.shadowdb_dead_letters
http:
  host: 127.0.0.1
  port: ${httpPort}
  adminToken: ${JSON.stringify(adminToken)}
log:
  level: warn
`;
  return parseConfig(yaml, "shadowdb demo", {});
}
