/**
 * The table of `shadowdb` sub-commands: usage, summary, description, options and exit codes. The
 * help text (app.ts) and docs/cli.md's promise that it cannot drift both rest on it.
 */

interface Command {
  usage: string;
  summary: string;
  /** One paragraph: what the command does and what it needs. */
  description: string;
  /** [flag as typed, meaning]. */
  options: [string, string][];
  /** [exit code, when]. */
  exits: [number, string][];
}

const configOption: [string, string] = ["--config FILE", "the shadowdb config (YAML; see config/*.yaml)"];
const formatOption: [string, string] = ["--format text|json", "text for people (default), json for machines"];
const typedError =
  "usage or config error, or a typed error (CODE: message on stderr; codes in src/errors.ts)";

export const commands: Record<string, Command> = {
  run: {
    usage: "run --config FILE",
    summary: "consume Debezium topics and keep the shadow database current",
    description:
      "Consumes the configured Debezium topics and applies every change to the target database, storing Kafka positions in the same transactions; installs the copy-on-write overlay of each table before its first write (overlay.enabled), and serves /healthz, /status and the admin endpoints unless http.port is 0. Runs until SIGINT or SIGTERM.",
    options: [configOption],
    exits: [
      [
        0,
        "stopped by SIGINT or SIGTERM (also when the batch in flight was abandoned after shutdown.timeoutMs)",
      ],
      [1, "the materializer stopped on an error it cannot wait out (logged), e.g. onError: stop"],
      [2, `${typedError} while starting`],
    ],
  },
  check: {
    usage: "check --config FILE [--connect-url URL] [--format text|json]",
    summary: "validate config, connectivity, privileges and source prerequisites",
    description:
      "Runs every check it can, none stopping the others, and prints one line per check (✔ ok, ! warning, ✖ failed) with a fix for each problem: the config loads; the Kafka brokers answer and each tables[] entry finds its topics (and the transaction topic in source mode); the target answers and its user may do what apply and the overlay do (tried on objects of its own and undone); each table named exactly exists with a primary key; with --connect-url, the Debezium connectors that write the mapped topics run and have the settings shadowdb relies on.",
    options: [
      configOption,
      ["--connect-url URL", "Kafka Connect's REST URL: also check the source connectors"],
      formatOption,
    ],
    exits: [
      [0, "no check failed (warnings allowed)"],
      [1, "a check failed"],
      [2, "the config does not load, or bad arguments"],
    ],
  },
  status: {
    usage: "status --config FILE [--format text|json]",
    summary: "lag, positions, overlay sizes, dead letters",
    description:
      "Reads, without a running instance: per partition of the mapped topics the position stored in the target against the partition's end offset (the lag); per installed overlay the keys it owns and how many of them are production rows hidden by a unique conflict; the dead letters kept (table store, or the topic and its outbox). Creates nothing.",
    options: [configOption, formatOption],
    exits: [
      [0, "everything was read"],
      [2, `${typedError}; or the target or Kafka cannot be reached`],
    ],
  },
  diff: {
    usage: "diff --config FILE [--table T] [--format json|text]",
    summary: "overlay rows against production",
    description:
      "Lists the rows the shadow owns against production's versions: rows it inserted, deleted and updated (changed columns, production → shadow) and production rows hidden by a conflict, leaving out each table's diff.ignore columns. Every installed overlay of a table the config maps, or one table.",
    options: [
      configOption,
      ["--table schema.table", "only this table"],
      ["--format text|json", "text for people (default), json for machines"],
    ],
    exits: [
      [0, "no differences"],
      [1, "differences"],
      [2, typedError],
    ],
  },
  reset: {
    usage: "reset --config FILE [--table T] [--key JSON]",
    summary: "restore overlay rows to production",
    description:
      "Gives owned rows production's current version back and forgets their ownership: every installed overlay of a table the config maps, one table, or one key of one table. Online: apply may keep running.",
    options: [
      configOption,
      ["--table schema.table", "only this table"],
      ["--key JSON", "only this key of --table, e.g. '{\"id\": 42}'"],
    ],
    exits: [
      [0, "reset done (also when nothing was owned)"],
      [2, typedError],
    ],
  },
  seed: {
    usage: "seed --config FILE [--table T] [--format text|json]",
    summary: "load the tables from production's snapshot at bulk speed (PostgreSQL)",
    description:
      "The initial load without a Debezium snapshot: reads each mapped topic's end offsets, then copies the production tables (seed.source.url, one read-only snapshot) into the empty shadow tables (PostgreSQL: COPY; MySQL/MariaDB: LOAD DATA LOCAL) and stores those offsets as positions in the same transaction; run then applies what changed since. Needs the connector's change stream to exist: its replication slot, or a row-based binlog (snapshot.mode=no_data is enough). Tables whose topic already has positions are skipped; masked tables and source-transaction mode are refused (SEED_UNSUPPORTED).",
    options: [configOption, ["--table schema.table", "only this target table"], formatOption],
    exits: [
      [0, "every table seeded or skipped"],
      [2, `${typedError}, e.g. SEED_NOT_EMPTY, SEED_NO_CAPTURE`],
    ],
  },
  resync: {
    usage:
      "resync --config FILE --table T [--direct] [--source-url URL | --no-sweep] [--timeout SECONDS] [--format text|json]",
    summary: "bring one table back to production through Debezium's incremental snapshot (online)",
    description:
      "For production changes no event carries (a backfill by DDL, a rename's values, drift): sends the connector an execute-snapshot signal for the production table behind T (on <topic.prefix>.signals; the connector needs read.only and the Kafka signal channel, connectors/README.md), follows <topic.prefix>.notifications until Debezium reports the snapshot complete, and waits until the running `shadowdb run` has applied its rows, overlay-aware (rows the shadow owns stay the shadow's). Then, with --source-url or seed.source.url, reads production's keys and deletes the shadow rows whose keys production no longer has (owned rows excepted). With --direct, no signal: shadowdb copies production's rows itself, page by page, each page read while apply waits on the topic's position locks. Writes nothing to production.",
    options: [
      configOption,
      ["--table schema.table", "the target table; it must be one a mapped topic writes"],
      ["--source-url URL", "production, read-only, for the sweep of deleted keys (default seed.source.url)"],
      ["--direct", "copy production's rows itself instead of asking the connector (needs the source URL)"],
      ["--no-sweep", "do not look for rows production deleted"],
      ["--timeout SECONDS", "per step: the snapshot's completion, then its application (default 600)"],
      formatOption,
    ],
    exits: [
      [0, "the table was resynced"],
      [
        2,
        `${typedError}, e.g. RESYNC_TABLE_UNMAPPED, RESYNC_SIGNAL, RESYNC_SNAPSHOT_FAILED, RESYNC_TIMEOUT, RESYNC_UNSUPPORTED`,
      ],
    ],
  },
  overlay: {
    usage: "overlay install|uninstall --config FILE [--table T]",
    summary: "create or remove the copy-on-write overlay (tables stay intact)",
    description:
      "install creates the overlay (ownership and copy tables, triggers, registry row) of every table the config maps by exact topic, or of --table; run installs it too, before a table's first write. uninstall removes every installed overlay, or that of --table; the tables and their rows stay as they are.",
    options: [configOption, ["--table schema.table", "only this table"]],
    exits: [
      [0, "installed or uninstalled"],
      [2, `${typedError} (e.g. --table names no table, or one without a primary key)`],
    ],
  },
  connectors: {
    usage:
      "connectors apply --connect-url URL --file F [--file F …] [--set VAR=VALUE …] [--dry-run] [--timeout SECONDS]",
    summary: "validate and create or update the Debezium source connectors in Kafka Connect",
    description: `Reads each connector file (postgres, mysql or mariadb for the files shipped in connectors/, or a path) and fills its \${VAR} references from the environment and --set; Kafka Connect then validates every config (PUT /connector-plugins/{class}/config/validate) and each setting it rejects is listed. Only when all are valid, and unless --dry-run, each connector is created or updated (PUT /connectors/{name}/config) and watched until it and its tasks are RUNNING or one FAILED. Passwords are never printed.`,
    options: [
      ["apply", "the sub-command"],
      ["--connect-url URL", "Kafka Connect's REST URL (credentials as user:password@)"],
      ["--file F", "postgres, mysql, mariadb (connectors/<name>.json) or a path; repeatable; required"],
      ["--set VAR=VALUE", `a variable for the files' \${VAR} references, over the environment; repeatable`],
      ["--dry-run", "validate only; create or change nothing"],
      ["--timeout SECONDS", "how long to wait for RUNNING (default 60)"],
    ],
    exits: [
      [0, "every connector is RUNNING (with --dry-run: every config is valid)"],
      [1, "Connect rejected a config (nothing created), or a connector FAILED or did not run in time"],
      [
        2,
        "usage or config error, e.g. an unset variable (CONFIG_ENV_MISSING; nothing is sent), or Kafka Connect unreachable",
      ],
    ],
  },
  decode: {
    usage: "decode [--key FILE] [--topic T] [--binary-handling-mode MODE] [--envelope E] [FILE | -]",
    summary: "print what shadowdb makes of one message",
    description:
      "Reads one message value (JSON as it is on the topic; null for a tombstone) from FILE or stdin and prints the decoded event as lossless JSON: op, table, key, before, after, the columns' types, source and transaction.",
    options: [
      ["--key FILE", "the message key"],
      ["--topic T", "the topic it came from"],
      ["--binary-handling-mode MODE", "bytes (default), base64, base64-url-safe or hex, as the connector's"],
      [
        "--envelope E",
        "debezium (default) or flattened (ExtractNewRecordState rows), as the table's tables[].envelope",
      ],
      ["FILE | -", "the message value; - or nothing reads stdin"],
    ],
    exits: [
      [0, "decoded"],
      [2, "bad arguments, or the message cannot be decoded (its CODE: message on stderr)"],
    ],
  },
  demo: {
    usage: "demo [--db-port N] [--http-port N] [--pace MS] [--data DIR]",
    summary: "the embedded default: a demo that needs no servers",
    description:
      "Runs the real pipeline with nothing to set up: an embedded PostgreSQL (PGlite on a local port) is the shadow database, a recorded Debezium stream stands in for Kafka and replays production's transactions one at a time, the overlay is on and the HTTP endpoints are up. Prints the database URL, the HTTP address and the admin token; runs until SIGINT or SIGTERM.",
    options: [
      ["--db-port N", "the embedded database's port (default 5433)"],
      ["--http-port N", "the HTTP endpoints' port (default 8080)"],
      ["--pace MS", "milliseconds between replayed transactions (default 3000)"],
      ["--data DIR", "keep the embedded database in DIR (default: in memory)"],
    ],
    exits: [
      [0, "stopped by SIGINT or SIGTERM"],
      [1, "the replay stopped on an error it cannot wait out"],
      [2, typedError],
    ],
  },
};
