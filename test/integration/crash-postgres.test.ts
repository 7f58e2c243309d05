/** The crash test (test/support/crash-suite.ts) on PostgreSQL → Debezium → Kafka → `shadowdb run` → PostgreSQL. */
import { crashSuite } from "../support/crash-suite.ts";

crashSuite("postgres");
