/**
 * Compares a decoded value with the source database's own text for the same cell (fixtures'
 * sourceRows). Each rule turns both sides into one canonical text; the rules are deliberately
 * independent of the decoder's code (they parse the database's text, not Debezium's encoding).
 */
import { UNCHANGED, type Value } from "../../src/decode/values.ts";

export type Engine = "postgres" | "mariadb";

/** time.precision.mode=connect carries milliseconds only: compare at that precision. */
export function toMillis(text: string): string {
  return text.replace(/(\.\d{3})\d+/, "$1");
}

const fraction = (text: string) => text.replace(/(\.\d*?)0+(?=$|[Z+-])/, "$1").replace(/\.(?=$|[Z+-])/, "");

/** PostgreSQL "4713-01-01 BC" → astronomical "-4712-01-01"; years past 9999 get a "+". */
function isoYears(text: string): string {
  const bc = / BC$/.test(text);
  const body = text.replace(/ BC$/, "");
  const m = /^(\d+)(-.*)$/.exec(body);
  if (!m) return body;
  const year = Number(m[1]);
  if (bc) return `-${String(year - 1).padStart(4, "0")}${m[2]}`;
  return year > 9999 ? `+${m[1]}${m[2]}` : body;
}

function pgTimestamp(text: string): string {
  return fraction(isoYears(text).replace(" ", "T"));
}

/** "12:34:56+05:30" → the same instant of day in UTC, "07:04:56Z". */
function timetzToUtc(text: string): string {
  const m = /^(\d\d):(\d\d):(\d\d)(\.\d+)?([+-])(\d\d)(?::(\d\d))?$/.exec(text);
  if (!m) return text;
  const offset = (m[5] === "-" ? -1 : 1) * (Number(m[6]) * 60 + Number(m[7] ?? 0));
  const minutes = (((Number(m[1]) * 60 + Number(m[2]) - offset) % 1440) + 1440) % 1440;
  const hh = String(Math.floor(minutes / 60)).padStart(2, "0");
  const mm = String(minutes % 60).padStart(2, "0");
  return fraction(`${hh}:${mm}:${m[3]}${m[4] ?? ""}Z`);
}

/** ISO-8601 interval → microseconds as Debezium's MicroDuration counts them (a month = 365.25/12 days). */
function intervalMicros(text: string): bigint {
  const m =
    /^(-)?P(?:(-?\d+)Y)?(?:(-?\d+)M)?(?:(-?\d+)D)?(?:T(?:(-?\d+)H)?(?:(-?\d+)M)?(?:(-?[\d.]+)S)?)?$/.exec(
      text,
    );
  if (!m) throw new Error(`not an ISO interval: ${text}`);
  const n = (i: number) => BigInt(m[i] ?? "0");
  const [sec, frac = ""] = (m[7] ?? "0").split(".");
  const negative = (m[7] ?? "").startsWith("-");
  const secondMicros =
    BigInt(sec!) * 1_000_000n + (negative ? -1n : 1n) * BigInt(frac.padEnd(6, "0").slice(0, 6));
  const monthMicros = (n(2) * 12n + n(3)) * 2_629_800_000_000n; // 30.4375 days
  const total =
    monthMicros + n(4) * 86_400_000_000n + n(5) * 3_600_000_000n + n(6) * 60_000_000n + secondMicros;
  return m[1] ? -total : total;
}

function durationMicros(text: string): bigint {
  const m = /^(-?)PT(\d+)(?:\.(\d+))?S$/.exec(text);
  if (!m) throw new Error(`not a decoded duration: ${text}`);
  const micros = BigInt(m[2]!) * 1_000_000n + BigInt((m[3] ?? "").padEnd(6, "0"));
  return m[1] ? -micros : micros;
}

/** A one-dimensional PostgreSQL array literal → its elements (null for NULL). */
export function pgArray(text: string): (string | null)[] {
  const body = text.slice(1, -1);
  const out: (string | null)[] = [];
  let i = 0;
  while (i < body.length) {
    if (body[i] === '"') {
      let value = "";
      i++;
      while (body[i] !== '"') {
        if (body[i] === "\\") i++;
        value += body[i++];
      }
      out.push(value);
      i += 2;
    } else {
      const end = body.indexOf(",", i);
      const raw = body.slice(i, end === -1 ? body.length : end);
      out.push(raw === "NULL" ? null : raw);
      i = end === -1 ? body.length : end + 1;
    }
  }
  return out;
}

function hstore(text: string): Record<string, string | null> {
  const out: Record<string, string | null> = {};
  const pair = /"((?:[^"\\]|\\.)*)"=>(?:"((?:[^"\\]|\\.)*)"|NULL)/g;
  const unquote = (s: string) => s.replace(/\\(.)/g, "$1");
  for (const m of text.matchAll(pair)) out[unquote(m[1]!)] = m[2] === undefined ? null : unquote(m[2]);
  return out;
}

/** Minimal WKB → MySQL WKT ("POINT(1 2)", "POLYGON((0 0,1 0,…))"), enough for the fixtures' shapes. */
export function wkbToWkt(wkb: Buffer): string {
  let at = 0;
  const read = (): string => {
    const little = wkb[at] === 1;
    at += 1;
    const type = little ? wkb.readUInt32LE(at) : wkb.readUInt32BE(at);
    at += 4;
    const u32 = () => {
      const v = little ? wkb.readUInt32LE(at) : wkb.readUInt32BE(at);
      at += 4;
      return v;
    };
    const f64 = () => {
      const v = little ? wkb.readDoubleLE(at) : wkb.readDoubleBE(at);
      at += 8;
      return v;
    };
    const point = () => `${f64()} ${f64()}`;
    const points = () => Array.from({ length: u32() }, point).join(",");
    const rings = () => Array.from({ length: u32() }, () => `(${points()})`).join(",");
    const many = (inner: (s: string) => string) =>
      Array.from({ length: u32() }, () => inner(read())).join(",");
    switch (type) {
      case 1:
        return `POINT(${point()})`;
      case 2:
        return `LINESTRING(${points()})`;
      case 3:
        return `POLYGON(${rings()})`;
      case 4:
        return `MULTIPOINT(${many((s) => s.slice(6, -1))})`;
      case 5:
        return `MULTILINESTRING(${many((s) => s.slice(10))})`;
      case 6:
        return `MULTIPOLYGON(${many((s) => s.slice(7))})`;
      case 7:
        return `GEOMETRYCOLLECTION(${many((s) => s)})`;
      default:
        throw new Error(`WKB type ${type}`);
    }
  };
  return read();
}

const num = (v: Value) => (typeof v === "bigint" ? Number(v) : (v as number));

function sameFloat(source: string, decoded: Value, single: boolean): boolean {
  const expected = source === "NaN" ? Number.NaN : Number(source.replace(/^-?Infinity$/i, (s) => s));
  const actual = num(decoded);
  if (Number.isNaN(expected)) return Number.isNaN(actual);
  return single ? Math.fround(expected) === Math.fround(actual) : expected === actual;
}

export interface CellContext {
  engine: Engine;
  sqlType: string;
  mode: string;
}

/** Canonical texts of both sides, equal when the cell survived decoding exactly. */
export function compareCell(
  ctx: CellContext,
  source: string | null,
  decoded: Value,
): { expected: string; actual: string } {
  if (decoded === UNCHANGED) return { expected: "unchanged", actual: "unchanged" };
  if (source === null || decoded === null)
    return { expected: String(source), actual: decoded === null ? "null" : "not null" };
  const t = ctx.sqlType.toLowerCase();
  const same = (ok: boolean) => ({ expected: source, actual: ok ? source : JSON.stringify(decoded, big) });
  return ctx.engine === "postgres"
    ? postgres(t, source, decoded, ctx.mode, same)
    : mariadb(t, source, decoded, ctx.mode, same);
}

function big(_: string, v: unknown) {
  return typeof v === "bigint" ? `${v}n` : v;
}

type Same = (ok: boolean) => { expected: string; actual: string };

function bytesOf(decoded: Value, mode: string): Buffer {
  if (Buffer.isBuffer(decoded)) return decoded;
  // binary.handling.mode base64/hex without propagated source types: the decoder sees a string.
  if (typeof decoded === "string") return Buffer.from(decoded, mode === "binary-hex" ? "hex" : "base64");
  throw new Error("not bytes");
}

function postgres(
  t: string,
  source: string,
  d: Value,
  mode: string,
  same: Same,
): { expected: string; actual: string } {
  if (t.endsWith("[]")) {
    const elements = pgArray(source);
    const values = d as Value[];
    const element = t.slice(0, -2);
    const cell = (e: string, v: Value) => {
      const r = postgres(element, e, v, mode, (ok) => ({ expected: e, actual: ok ? e : "≠" }));
      return r.expected === r.actual;
    };
    return same(
      Array.isArray(values) &&
        elements.length === values.length &&
        elements.every((e, i) =>
          e === null ? values[i] === null : values[i] !== null && cell(e, values[i]!),
        ),
    );
  }
  if (t === "inet") return same(d === source.replace(/\/(32|128)$/, ""));
  if (/^(smallint|integer|int|bigint)$/.test(t)) return same(String(d) === source);
  if (t.startsWith("numeric")) {
    if (mode === "decimal-double") return same(sameFloat(source, d, false));
    return same(String(d) === source || (source === "NaN" && (d === "NAN" || d === null)));
  }
  if (t === "money") {
    const plain = source.replace(/[$,]/g, "");
    return same(mode === "decimal-double" ? Number(plain) === d : String(d) === plain);
  }
  if (t === "real") return same(sameFloat(source, d, true));
  if (t === "double precision" || t === "float") return same(sameFloat(source, d, false));
  if (t === "boolean") return same(String(d) === source);
  if (t.startsWith("char(")) return same(typeof d === "string" && d.trimEnd() === source);
  if (t === "bytea") return same(`\\x${bytesOf(d, mode).toString("hex")}` === source);
  if (t === "date") return same(d === isoYears(source));
  if (t.startsWith("time(") || t === "time") return same(fraction(String(d)) === fraction(source));
  if (t.startsWith("timestamp(") || t === "timestamp")
    return same(fraction(String(d)) === pgTimestamp(source));
  if (t === "timestamptz") {
    if (/infinity/.test(source)) return same(d === source);
    return same(fraction(String(d)) === pgTimestamp(source).replace(/\+00$/, "Z"));
  }
  if (t === "timetz") return same(fraction(String(d)) === timetzToUtc(source));
  if (t === "interval") {
    // MicroDuration decodes to "PT<seconds>S"; interval.handling.mode=string (the stack's
    // connectors set it, whatever the recorded mode's name) sends PostgreSQL's own P…Y…M…DT… text.
    const text = String(d);
    const decoded = /^-?PT\d+(\.\d+)?S$/.test(text) ? durationMicros(text) : intervalMicros(text);
    return same(decoded === intervalMicros(source));
  }
  if (t === "hstore") {
    const decoded = typeof d === "string" ? JSON.parse(d) : d;
    return same(JSON.stringify(sortKeys(decoded)) === JSON.stringify(sortKeys(hstore(source))));
  }
  if (t === "bit(1)") return same(String(d === true ? 1 : 0) === source);
  if (t === "varbit")
    return same(d === source.replace(/^0+(?=.)/, "") || (source.replace(/0/g, "") === "" && d === ""));
  if (t === "point") {
    const p = d as { x: number; y: number };
    return same(`(${p.x},${p.y})` === source);
  }
  return same(d === source);
}

function sortKeys(o: Record<string, unknown>) {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : 1)));
}

function mariadb(
  t: string,
  source: string,
  d: Value,
  mode: string,
  same: Same,
): { expected: string; actual: string } {
  if (t === "bigint unsigned" && mode !== "bigint-precise") {
    // bigint.unsigned.handling.mode=long (Debezium's default) wraps values above 2^63-1.
    return same(BigInt.asIntN(64, BigInt(source)) === BigInt(String(d)));
  }
  if (/^(tinyint|smallint|mediumint|int|bigint)( unsigned)?$/.test(t) || t === "tinyint(1)" || t === "year") {
    return same(String(d) === source);
  }
  if (t === "boolean") return same(String(d === true ? 1 : d === false ? 0 : d) === source);
  if (t.startsWith("decimal")) {
    return same(mode === "decimal-double" ? sameFloat(source, d, false) : String(d) === source);
  }
  if (t === "float") return same(Math.abs(num(d) - Number(source)) <= Math.abs(Number(source)) * 1e-6);
  if (t === "double") return same(sameFloat(source, d, false));
  if (t === "bit(1)") return same(String(d === true ? 1 : 0) === source);
  if (t.startsWith("bit(")) return same(String(d).replace(/^0+(?=.)/, "") === source);
  if (/binary|blob/.test(t)) return same(bytesOf(d, mode).toString("hex").toUpperCase() === source);
  if (t.startsWith("datetime")) return same(fraction(String(d)) === fraction(source.replace(" ", "T")));
  if (t.startsWith("timestamp"))
    return same(fraction(String(d)) === `${fraction(source.replace(" ", "T"))}Z`);
  if (t.startsWith("time")) return same(fraction(String(d)) === fraction(source));
  if (t === "json") return same(JSON.stringify(JSON.parse(String(d))) === JSON.stringify(JSON.parse(source)));
  if (t === "geometry" || t === "point") return same(wkbToWkt((d as { wkb: Buffer }).wkb) === source);
  return same(d === source);
}
