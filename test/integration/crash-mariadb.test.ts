/** The crash test (test/support/crash-suite.ts) on MariaDB → Debezium → Kafka → `shadowdb run` → MariaDB. */
import { crashSuite } from "../support/crash-suite.ts";

crashSuite("mariadb");
