import { ShadowdbError } from "../../errors.ts";
import type { Target } from "../dialect.ts";
import { PostgresSeedSource } from "./seed-source.ts";
import { PostgresTarget } from "./target.ts";

export { classifyPostgres as classify } from "./errors.ts";
export { PostgresKeyReader as KeyReader } from "./resync-keys.ts";
export { PostgresTarget as Target } from "./target.ts";

export const seeding = {
  Source: PostgresSeedSource,
  target: (target: Target) => {
    if (target instanceof PostgresTarget) return target;
    throw new ShadowdbError("SEED_UNSUPPORTED", "seed loads through the PostgreSQL target's own session");
  },
};
