/** What a seed source's failure becomes, in either dialect: SEED_SOURCE, naming what it was doing. */
import { ShadowdbError } from "../errors.ts";

export const seedSourceError = (error: unknown, what: string): ShadowdbError =>
  error instanceof ShadowdbError
    ? error
    : new ShadowdbError("SEED_SOURCE", `${what}: ${(error as Error).message}`, { cause: error });
