import { ShadowdbError } from "../../errors.ts";
import type { Target } from "../dialect.ts";
import { MysqlSeedSource } from "./seed-source.ts";
import { MysqlTarget } from "./target.ts";

export { classifyMysql as classify } from "./errors.ts";
export { MysqlKeyReader as KeyReader } from "./resync-keys.ts";
export { MysqlTarget as Target } from "./target.ts";

export const seeding = {
  Source: MysqlSeedSource,
  target: (target: Target) => {
    if (target instanceof MysqlTarget) return target;
    throw new ShadowdbError("SEED_UNSUPPORTED", "seed loads through the MySQL target's own session");
  },
};
