export { classifyPostgres as classify } from "./errors.ts";
export { PostgresTarget as Target } from "./target.ts";
