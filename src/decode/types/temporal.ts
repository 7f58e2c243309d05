/**
 * Debezium's and Connect's temporal logical types: epoch integers in ms/µs/ns, days, ISO-8601 text
 * with or without an offset, years and durations. PostgreSQL's ±infinity arrive as sentinels.
 */
import type { ColumnKind, ColumnType } from "../columns.ts";
import type { DecodeContext } from "../context.ts";
import { preview } from "../limits.ts";
import type { ConnectSchema } from "../schema.ts";
import { dateFromEpochDays, durationFromMicros, localDateTime, timeOfDay, type Unit } from "../temporal.ts";
import { badValue, type Compiled, int, int64, str, type TypeBase } from "./read.ts";

/** A Map, not an object: a schema name such as "constructor" must not find Object.prototype's. */
const temporalInt = new Map<string, { kind: ColumnKind; unit: Unit; of: "date" | "time" | "timestamp" }>([
  ["io.debezium.time.Time", { kind: "time", unit: "ms", of: "time" }],
  ["io.debezium.time.MicroTime", { kind: "time", unit: "us", of: "time" }],
  ["io.debezium.time.NanoTime", { kind: "time", unit: "ns", of: "time" }],
  ["org.apache.kafka.connect.data.Time", { kind: "time", unit: "ms", of: "time" }],
  ["io.debezium.time.Timestamp", { kind: "timestamp", unit: "ms", of: "timestamp" }],
  ["io.debezium.time.MicroTimestamp", { kind: "timestamp", unit: "us", of: "timestamp" }],
  ["io.debezium.time.NanoTimestamp", { kind: "timestamp", unit: "ns", of: "timestamp" }],
  ["org.apache.kafka.connect.data.Timestamp", { kind: "timestamp", unit: "ms", of: "timestamp" }],
]);
const digitsOf: Record<Unit, number> = { ms: 3, us: 6, ns: 9 };

// PostgreSQL ±infinity as Debezium encodes them: MicroTimestamp, Timestamp (ms) and, in
// nanoseconds mode, Long.MAX/MIN (all recorded or documented; no real timestamp comes close).
const positiveInfinity = new Set([9223372036825200000n, 9223372036825200n, 9223372036854775807n]);
const negativeInfinity = new Set([-9223372036832400000n, -9223372036832400n, -9223372036854775808n]);

// PostgreSQL's date ±infinity as Debezium 3.5 sends them, streaming and snapshot (recorded):
// all far below the earliest date PostgreSQL can store (4713 BC, day -2440588).
const dateInfinity = new Map([
  [-2147472692, "infinity"],
  [-2147472691, "-infinity"],
  [-622191234, "infinity"],
  [-625821272, "-infinity"],
]);

const zonedTimestamp =
  /^(?:[+-]?\d{4,}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?(?:Z|[+-]\d\d:\d\d(?::\d\d)?)|-?infinity)$/;
/** Longer than any ISO-8601 timestamp Debezium writes (a 6-digit year, 9 fraction digits, an offset). */
const MAX_TEMPORAL_TEXT = 64;
const zonedTime = /^\d\d:\d\d:\d\d(?:\.\d{1,9})?(?:Z|[+-]\d\d(?::\d\d(?::\d\d)?)?)$/;

/** A temporal logical type, or undefined when `name` is not one. */
export function compileTemporal(
  name: string,
  schema: ConnectSchema,
  field: string,
  base: TypeBase,
): Compiled | undefined {
  const temporal = temporalInt.get(name);
  if (temporal) return epochInteger(temporal.kind, temporal.unit, temporal.of, schema, field, base);
  switch (name) {
    case "io.debezium.time.Date":
    case "org.apache.kafka.connect.data.Date":
      return {
        type: { ...base, kind: "date" },
        decode: (raw, _, f) => {
          const days = int(raw, f);
          return dateInfinity.get(days) ?? dateFromEpochDays(days);
        },
      };
    case "io.debezium.time.ZonedTimestamp":
      return {
        type: { ...base, kind: "timestamptz" },
        decode: (raw, _, f) => {
          const text = str(raw, f);
          // Length first: the pattern backtracks through a long run of digits (5 MB: 350 ms).
          return text.length <= MAX_TEMPORAL_TEXT && zonedTimestamp.test(text)
            ? text
            : badValue(f, `not an ISO-8601 timestamp with offset: ${preview(text, 60)}`);
        },
      };
    case "io.debezium.time.ZonedTime":
      return {
        type: { ...base, kind: "timetz" },
        decode: (raw, _, f) => {
          const text = str(raw, f);
          return text.length <= MAX_TEMPORAL_TEXT && zonedTime.test(text)
            ? text
            : badValue(f, `not an ISO-8601 time with offset: ${preview(text, 60)}`);
        },
      };
    case "io.debezium.time.IsoDate":
      return { type: { ...base, kind: "date" }, decode: (raw, _, f) => str(raw, f).replace(/Z$/, "") };
    case "io.debezium.time.IsoTime":
      return { type: { ...base, kind: "time" }, decode: (raw, _, f) => str(raw, f).replace(/Z$/, "") };
    case "io.debezium.time.IsoTimestamp":
      return {
        type: { ...base, kind: "timestamp" },
        decode: (raw, _, f) => str(raw, f).replace(/Z$/, ""),
      };
    case "io.debezium.time.Year":
      return { type: { ...base, kind: "year" }, decode: (raw, _, f) => int(raw, f) };
    case "io.debezium.time.MicroDuration":
      return {
        type: { ...base, kind: "duration" },
        decode: (raw, ctx, f) => durationFromMicros(int64(raw, ctx, field, f)),
      };
    case "io.debezium.time.Interval":
      return { type: { ...base, kind: "interval" }, decode: (raw, _, f) => str(raw, f) };
    default:
      return undefined;
  }
}

/** A time of day or a zoneless timestamp as an integer count of `unit` (int32 or int64). */
function epochInteger(
  kind: ColumnKind,
  unit: Unit,
  of: "date" | "time" | "timestamp",
  schema: ConnectSchema,
  field: string,
  base: TypeBase,
): Compiled {
  const read = (raw: unknown, ctx: DecodeContext, f: string) =>
    schema.type === "int64" ? int64(raw, ctx, field, f) : BigInt(int(raw, f));
  const type: ColumnType = { ...base, kind, fractionDigits: digitsOf[unit] };
  if (of === "time") return { type, decode: (raw, ctx, f) => timeOfDay(read(raw, ctx, f), unit) };
  return {
    type,
    decode: (raw, ctx, f) => {
      const v = read(raw, ctx, f);
      if (positiveInfinity.has(v)) return "infinity";
      if (negativeInfinity.has(v)) return "-infinity";
      return localDateTime(v, unit);
    },
  };
}
