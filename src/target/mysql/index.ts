export { classifyMysql as classify } from "./errors.ts";
export { MysqlTarget as Target } from "./target.ts";
