/**
 * Epoch-based integers to ISO-8601 text, exact for every value Debezium can send: integer
 * arithmetic only (Date would round to ms and stops at ±275760 years; PostgreSQL dates go further).
 */

const pad = (n: number | bigint, width: number) => n.toString().padStart(width, "0");

function yearText(year: number): string {
  if (year >= 0 && year <= 9999) return pad(year, 4);
  return `${year < 0 ? "-" : "+"}${pad(Math.abs(year), 4)}`;
}

/** Days since 1970-01-01 → "YYYY-MM-DD" (proleptic Gregorian, astronomical years: 0 = 1 BC). */
export function dateFromEpochDays(days: number): string {
  // Howard Hinnant's civil_from_days.
  const z = days + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor(
    (doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365,
  );
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  const year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  return `${yearText(year)}-${pad(month, 2)}-${pad(day, 2)}`;
}

export type Unit = "ms" | "us" | "ns";
const perSecond: Record<Unit, bigint> = { ms: 1000n, us: 1_000_000n, ns: 1_000_000_000n };
const digits: Record<Unit, number> = { ms: 3, us: 6, ns: 9 };
const secondsPerDay = 86_400n;

/** A duration within a day (or beyond, for MySQL TIME) → "HH:MM:SS.fff…" with the unit's digits. */
export function timeOfDay(value: bigint, unit: Unit): string {
  const negative = value < 0n;
  const abs = negative ? -value : value;
  const seconds = abs / perSecond[unit];
  const fraction = abs % perSecond[unit];
  const h = seconds / 3600n;
  const m = (seconds / 60n) % 60n;
  const s = seconds % 60n;
  return `${negative ? "-" : ""}${pad(h, 2)}:${pad(m, 2)}:${pad(s, 2)}.${pad(fraction, digits[unit])}`;
}

/** Since the epoch, no zone → "YYYY-MM-DDTHH:MM:SS.fff…". */
export function localDateTime(value: bigint, unit: Unit): string {
  const unitsPerDay = secondsPerDay * perSecond[unit];
  let days = value / unitsPerDay;
  let rest = value % unitsPerDay;
  if (rest < 0n) {
    rest += unitsPerDay;
    days -= 1n;
  }
  return `${dateFromEpochDays(Number(days))}T${timeOfDay(rest, unit)}`;
}

/** A signed count of microseconds → ISO-8601 duration "PT…S" (MicroDuration carries no calendar parts). */
export function durationFromMicros(micros: bigint): string {
  const negative = micros < 0n;
  const abs = negative ? -micros : micros;
  const seconds = abs / 1_000_000n;
  const fraction = abs % 1_000_000n;
  const frac = fraction === 0n ? "" : `.${pad(fraction, 6).replace(/0+$/, "")}`;
  return `${negative ? "-" : ""}PT${seconds}${frac}S`;
}
