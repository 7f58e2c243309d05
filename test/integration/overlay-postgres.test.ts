/** The overlay behaviour suite on the real PostgreSQL; what only PostgreSQL has: overlay-postgres-only.test.ts. */
import { postgresOverlay } from "../support/overlay-bench.ts";
import { overlaySuite } from "../support/overlay-suite.ts";

overlaySuite(postgresOverlay);
