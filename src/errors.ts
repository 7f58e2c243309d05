/**
 * The one catalogue of shadowdb's error codes, grouped by the area that raises them. Every error
 * that leaves a module is a ShadowdbError with a code from this list; `retriable` tells the
 * runner whether waiting and trying again can help, or whether the record must be set aside
 * (dead letter) or the run stopped. `summary` says what happened; `fix`, where one applies to
 * every occurrence, what to do about it. Database errors are classified by SQLSTATE / errno where
 * they enter, never by message text. docs/errors.md is generated from this file
 * (`npm run docs:errors`).
 *
 * Longer than most files: one list is the point (a code is found, and kept unique, in one place).
 */

interface CodeEntry {
  retriable: boolean;
  summary: string;
  fix?: string;
}

// Decoding a Kafka record (src/decode): never retriable, the bytes will not change.
const decode = {
  DECODE_MALFORMED_JSON: { retriable: false, summary: "the key or value is not valid JSON" },
  DECODE_BAD_ENVELOPE: {
    retriable: false,
    summary: "the message is not a Debezium envelope or control message",
  },
  DECODE_SCHEMA_MISMATCH: { retriable: false, summary: "the payload does not match its Connect schema" },
  DECODE_BAD_SCHEMA: { retriable: false, summary: "the Connect schema itself is malformed" },
  DECODE_UNKNOWN_LOGICAL_TYPE: {
    retriable: false,
    summary: "a field has a logical type shadowdb does not know",
  },
  DECODE_BAD_VALUE: { retriable: false, summary: "a value cannot be decoded as its logical type" },
  DECODE_UNKNOWN_OP: { retriable: false, summary: "the envelope's op is not one of c, u, d, r, t, m" },
  DECODE_MISSING_ROW: {
    retriable: false,
    summary: "a create, read or update without `after`, or a delete without key or `before`",
  },
  DECODE_OVERSIZED: {
    retriable: false,
    summary: "the record is larger than the configured limit",
    fix: "raise `decode.maxRecordBytes` if records this large are expected",
  },
  DECODE_VALUE_TOO_LARGE: {
    retriable: false,
    summary:
      "a value is beyond what any target can hold: a decimal past PostgreSQL's numeric (131072 digits before the point, 16383 after), more decimal digits in one record than the per-record budget, a bit string past 83886080 bits",
  },
  DECODE_TOO_DEEP: { retriable: false, summary: "the value or its schema nests deeper than 64 levels" },
  DECODE_BAD_UTF8: { retriable: false, summary: "the key, value or a key header is not valid UTF-8" },
  DECODE_ENVELOPE_MISMATCH: {
    retriable: false,
    summary:
      "a bare row (no Debezium envelope) where the table's `envelope` is debezium, or an envelope where it is flattened",
    fix: "set the table's `envelope` to what the connector writes (an unwrap SMT writes flattened rows)",
  },
  DECODE_KEY_MISMATCH: {
    retriable: false,
    summary: "the message key's values differ from the same columns of the row it carries",
  },
  DECODE_FORMAT_UNSUPPORTED: {
    retriable: false,
    summary:
      "the record was written by a converter shadowdb does not read yet (Protobuf, JSON Schema, Avro's JSON encoding)",
    fix: "use the JSON converter or the Avro converter for the topics shadowdb reads",
  },
  DECODE_BAD_MAGIC: {
    retriable: false,
    summary: "the key or value is neither JSON text nor a schema registry frame (its first byte is not 0)",
  },
  DECODE_TRUNCATED_FRAME: {
    retriable: false,
    summary: "a schema registry frame or id header is shorter than its magic byte and schema id",
  },
  DECODE_SCHEMA_NOT_FOUND: {
    retriable: false,
    summary: "the schema registry has no schema with the record's id (HTTP 404)",
    fix: "check that shadowdb's `kafka.schemaRegistry.url` is the registry the converter writes to",
  },
  DECODE_BAD_REGISTRY_SCHEMA: {
    retriable: false,
    summary:
      "the schema registry's answer for the record's id is not a usable Avro schema (malformed, too large, or not a Connect shape)",
  },
  DECODE_AVRO_MISMATCH: {
    retriable: false,
    summary: "the Avro bytes do not decode with their writer schema (truncated, trailing or invalid bytes)",
  },
} as const satisfies Record<string, CodeEntry>;

// Mapping a decoded event onto a target table (src/map).
const map = {
  MAP_NO_KEY: {
    retriable: false,
    summary: "the table has no primary key and no `key` is configured",
    fix: "give the table a primary key, or name its key columns in `tables[].key`",
  },
  MAP_KEY_COLUMN_MISSING: { retriable: false, summary: "a key column is absent from the event" },
  MAP_MASK_KEY_MISSING: {
    retriable: false,
    summary: "a column is masked with strategy `hash` but there is no HMAC key",
    fix: "set `masking.key` (the config refuses a hashed column without it; a config built in code may not)",
  },
} as const satisfies Record<string, CodeEntry>;

// Applying a batch (src/apply): positions stored with the rows.
const apply = {
  APPLY_FENCED: {
    retriable: true,
    summary: "another instance advanced this partition's position first; re-read it and go on from there",
  },
  APPLY_SHAPE_UNRESOLVED: {
    retriable: true,
    summary:
      "a streamed source transaction met a table shape not looked up yet (a new table or schema): it is rolled back, the shape is looked up outside it, and the stream starts again",
  },
} as const satisfies Record<string, CodeEntry>;

// The target database (src/target), classified by SQLSTATE / errno.
const target = {
  TARGET_CONNECTION: {
    retriable: true,
    summary: "the connection to the target database failed or was lost",
    fix: "check `target.url` and that the database is up; shadowdb retries meanwhile",
  },
  TARGET_DEADLOCK: { retriable: true, summary: "the transaction was chosen as a deadlock victim" },
  TARGET_SERIALIZATION: { retriable: true, summary: "a serialization failure or lock wait timeout" },
  TARGET_CONSTRAINT: { retriable: false, summary: "a row violates a constraint of the target table" },
  TARGET_DATA: { retriable: false, summary: "a value does not fit its target column" },
  TARGET_SCHEMA: {
    retriable: false,
    summary: "a table or column the write needs does not exist or cannot be changed",
  },
  TARGET_PRIVILEGE: {
    retriable: false,
    summary: "the target user lacks a privilege shadowdb needs",
    fix: "grant the target user what the message names (`shadowdb check` tries every privilege shadowdb uses)",
  },
  TARGET_VALUE_ALTERED: {
    retriable: false,
    summary:
      "the target column would round, truncate or clamp the value (a narrower type than production's); refused, not stored changed",
    fix: "widen the shadow's column to production's type (`schema.follow: safe` widens the types it knows)",
  },
  TARGET_OTHER: { retriable: false, summary: "the target database refused the write for another reason" },
} as const satisfies Record<string, CodeEntry>;

// The copy-on-write overlay (src/overlay, src/target/*/overlay-*).
const overlay = {
  // Retriable: run installs the overlay again before the retry (it was uninstalled under it).
  OVERLAY_NOT_INSTALLED: {
    retriable: true,
    summary: "the table has no overlay installed (run `shadowdb overlay install` or `shadowdb run`)",
    fix: "`shadowdb overlay install --config F`, or start `shadowdb run`, which installs it",
  },
} as const satisfies Record<string, CodeEntry>;

// Dead letters (src/apply/apply.ts): what happens when the dead-letter store refuses a letter.
const deadLetters = {
  DEAD_LETTER_UNSTORABLE: {
    retriable: false,
    summary:
      "the dead-letter store refused a record's letter, even reduced to its coordinates: the record is skipped, logged and counted",
    fix: "check the dead-letter store (`deadLetter.table` or `deadLetter.topic`) and the log line naming the record",
  },
  DEAD_LETTER_TOO_LARGE: {
    retriable: false,
    summary:
      "a record set aside is larger than the dead-letter store takes in one statement (MariaDB/MySQL `max_allowed_packet`, PostgreSQL's 1 GB per value): its letter is stored reduced, without key and value",
    fix: "the record is still in Kafka at the letter's coordinates; raise `max_allowed_packet` to keep such records' bytes in the letter",
  },
} as const satisfies Record<string, CodeEntry>;

// Waiting out an outage (src/health/outage.ts): reported on /readyz, asked again.
const outage = {
  OUTAGE_NO_ANSWER: {
    retriable: true,
    summary: "Kafka or the target database did not answer a probe in time (hanging rather than refusing)",
    fix: "/readyz names the server; shadowdb keeps asking and goes on once it answers",
  },
} as const satisfies Record<string, CodeEntry>;

// Seeding the shadow from a production snapshot (src/seed, `shadowdb seed`).
const seed = {
  SEED_UNSUPPORTED: {
    retriable: false,
    summary:
      "the config asks for something seed cannot do (masked columns, source-transaction mode, another dialect)",
  },
  SEED_NO_CAPTURE: {
    retriable: false,
    summary:
      "the source keeps no change stream for a connector: changes committed during the seed would be lost",
  },
  SEED_SOURCE_MISSING: {
    retriable: false,
    summary: "the production table a topic names is not in the source",
  },
  SEED_NOT_EMPTY: {
    retriable: false,
    summary: "the target table has rows; seed loads empty tables only",
    fix: "seed into empty tables, or `shadowdb resync` a table that already has rows",
  },
  SEED_SOURCE: { retriable: false, summary: "the source database could not be reached or refused a read" },
} as const satisfies Record<string, CodeEntry>;

// Bringing one table back to production (src/resync, `shadowdb resync`).
const resync = {
  RESYNC_TABLE_UNMAPPED: {
    retriable: false,
    summary: "--table names no table the config's mappings write (no mapped topic feeds it)",
  },
  RESYNC_SIGNAL: {
    retriable: false,
    summary:
      "the connector cannot be signalled: Kafka is unreachable, or its signal or notification topic is missing",
  },
  RESYNC_SNAPSHOT_FAILED: {
    retriable: false,
    summary: "Debezium aborted the incremental snapshot or could not scan the table",
  },
  RESYNC_TIMEOUT: {
    retriable: false,
    summary: "the snapshot did not complete, or the stream did not apply it, within --timeout",
    fix: "raise --timeout for a large table, or check the connector is RUNNING with the signal channel",
  },
  RESYNC_SOURCE: {
    retriable: false,
    summary: "production could not be read (its keys for the sweep, or its rows for --direct)",
  },
  RESYNC_UNSUPPORTED: {
    retriable: false,
    summary: "--direct cannot copy this table (masked columns, or spatial columns on MySQL/MariaDB)",
  },
} as const satisfies Record<string, CodeEntry>;

// Configuration (src/config): fixed by editing the file or the environment.
const config = {
  CONFIG_UNREADABLE: {
    retriable: false,
    summary: "the config file cannot be read or is not YAML",
    fix: "check the path given to --config and its YAML",
  },
  CONFIG_INVALID: {
    retriable: false,
    summary: "a config key is missing or has the wrong type or value",
    fix: "fix the keys the message lists (docs/config.md has every key)",
  },
  CONFIG_ENV_MISSING: {
    retriable: false,
    summary: "a $-brace variable in the config names an unset environment variable",
    fix: "set the variable, or give it a default after `:-` inside the braces",
  },
} as const satisfies Record<string, CodeEntry>;

// The schema registry (src/decode/avro/registry.ts): the writer schemas of Avro records.
const registry = {
  REGISTRY_UNAVAILABLE: {
    retriable: true,
    summary: "the schema registry gave no answer (refused, unknown host, timed out) or answered 5xx or 429",
    fix: "check `kafka.schemaRegistry.url` and that the registry is up; records wait, none is dead-lettered for it",
  },
  REGISTRY_SCHEMA_NOT_PREPARED: {
    retriable: true,
    summary:
      "an Avro record's schema id was not resolved before decoding (its batch was not prepared, or the cache evicted it); preparing the batch again resolves it",
  },
  REGISTRY_REFUSED: {
    retriable: false,
    summary: "the schema registry refused the credentials (HTTP 401 or 403) or the request (another 4xx)",
    fix: "check `kafka.schemaRegistry` username/password or token",
  },
} as const satisfies Record<string, CodeEntry>;

// The command line (src/cli).
const cli = {
  USAGE_INVALID: {
    retriable: false,
    summary: "a command-line argument is missing or malformed",
    fix: "`shadowdb <command> --help` shows the options",
  },
} as const satisfies Record<string, CodeEntry>;

// The HTTP endpoints (src/http): the request, not the server, is at fault (except INTERNAL_ERROR
// and HTTP_LISTEN).
const http = {
  HTTP_UNAUTHORIZED: {
    retriable: false,
    summary: "an admin endpoint was called without a bearer token",
    fix: "send `Authorization: Bearer <http.adminToken>`",
  },
  HTTP_FORBIDDEN: {
    retriable: false,
    summary: "the bearer token is not the admin token",
    fix: "send the token `http.adminToken` holds",
  },
  HTTP_NOT_FOUND: { retriable: false, summary: "no such endpoint" },
  HTTP_METHOD_NOT_ALLOWED: { retriable: false, summary: "the endpoint does not accept this method" },
  HTTP_BODY_TOO_LARGE: { retriable: false, summary: "the request body is larger than 64 KiB" },
  HTTP_LISTEN: {
    retriable: false,
    summary:
      "the HTTP server cannot listen: the port is in use (EADDRINUSE) or needs privileges (EACCES), or the host is not an address of this machine",
    fix: "choose another `http.port` (the demo: `--http-port`) or stop what holds it; 0 serves no endpoints",
  },
  INTERNAL_ERROR: { retriable: false, summary: "an unexpected error; the server log has it" },
} as const satisfies Record<string, CodeEntry>;

// Kafka Connect's REST API (src/connectors, src/check: `shadowdb connectors`, `check --connect-url`).
const connect = {
  CONNECT_UNREACHABLE: {
    retriable: true,
    summary: "Kafka Connect's REST API gave no answer (refused, unknown host, timed out)",
    fix: "check the URL (--connect-url) and that the Connect worker's REST listener is up",
  },
  CONNECT_BAD_URL: { retriable: false, summary: "the Kafka Connect URL is not a URL" },
  CONNECT_CREDENTIALS: {
    retriable: false,
    summary: "Kafka Connect's REST API refused the credentials (HTTP 401 or 403)",
    fix: "give them as user:password@ in the URL",
  },
  CONNECT_ERROR_STATUS: {
    retriable: false,
    summary: "Kafka Connect's REST API answered the connector listing with an error status",
  },
} as const satisfies Record<string, CodeEntry>;

// The demo (src/demo, `shadowdb demo`).
const demo = {
  DEMO_STREAM_UNREADABLE: {
    retriable: false,
    summary: "the demo's recorded stream (test/fixtures/recorded/postgres/default/demo.json) cannot be read",
    fix: "run from a checkout or a full npm install: the package ships the file",
  },
  DEMO_STREAM_INVALID: {
    retriable: false,
    summary: "a record of the demo's recorded stream belongs to no source transaction",
  },
} as const satisfies Record<string, CodeEntry>;

/** The groups in the order docs/errors.md lists them, each with its title. */
export const errorGroups = [
  { title: "Decoding", area: "src/decode", codes: decode },
  { title: "Mapping", area: "src/map", codes: map },
  { title: "Applying", area: "src/apply", codes: apply },
  { title: "Target database", area: "src/target", codes: target },
  { title: "Overlay", area: "src/overlay", codes: overlay },
  { title: "Dead letters", area: "src/apply", codes: deadLetters },
  { title: "Outages", area: "src/health", codes: outage },
  { title: "Seed", area: "src/seed", codes: seed },
  { title: "Resync", area: "src/resync", codes: resync },
  { title: "Schema registry", area: "src/decode/avro", codes: registry },
  { title: "Configuration", area: "src/config", codes: config },
  { title: "Command line", area: "src/cli", codes: cli },
  { title: "HTTP", area: "src/http", codes: http },
  { title: "Kafka Connect", area: "src/connectors, src/check", codes: connect },
  { title: "Demo", area: "src/demo", codes: demo },
] as const;

export const errorCodes = {
  ...decode,
  ...map,
  ...apply,
  ...target,
  ...overlay,
  ...deadLetters,
  ...outage,
  ...seed,
  ...resync,
  ...registry,
  ...config,
  ...cli,
  ...http,
  ...connect,
  ...demo,
} as const satisfies Record<string, CodeEntry>;

export type ErrorCode = keyof typeof errorCodes;

export class ShadowdbError extends Error {
  readonly code: ErrorCode;
  readonly retriable: boolean;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "ShadowdbError";
    this.code = code;
    this.retriable = errorCodes[code].retriable;
  }
}

export function isShadowdbError(error: unknown, code?: ErrorCode): error is ShadowdbError {
  return error instanceof ShadowdbError && (code === undefined || error.code === code);
}
