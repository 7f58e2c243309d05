/** The overlay behaviour suite on the real MariaDB; what only MariaDB has: overlay-mariadb-only.test.ts. */
import { mariadbOverlay } from "../support/overlay-bench.ts";
import { overlaySuite } from "../support/overlay-suite.ts";

overlaySuite(mariadbOverlay);
