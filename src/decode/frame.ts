/**
 * JsonConverter framing: `{"schema":…,"payload":…}` or a bare payload. The schema half repeats on
 * every record of a table and is most of its bytes, so it is cut out as text, compiled once and
 * looked up by that text; only the payload half is parsed per record.
 */
import { isUtf8 } from "node:buffer";
import { ShadowdbError } from "../errors.ts";
import { MAX_DEPTH, preview } from "./limits.ts";
import { type ConnectSchema, parseSchema } from "./schema.ts";

const SCHEMA_PREFIX = '{"schema":';
const PAYLOAD_MARK = ',"payload":';

export interface Framed {
  /** null: no schema (schemas.enable=false, or `"schema": null`). */
  schemaText: string | null;
  payload: unknown;
  /** The payload's JSON text, for recovering numbers JSON.parse rounded. */
  payloadText: string;
}

function parse(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    // V8's message quotes the text around the fault: bounded and escaped like any record text.
    throw new ShadowdbError(
      "DECODE_MALFORMED_JSON",
      `${what} is not valid JSON: ${preview((error as Error).message)}`,
    );
  }
}

export function frame(text: string, what: "key" | "value"): Framed {
  if (text.startsWith(SCHEMA_PREFIX)) {
    // Connect writes the schema first; a `,"payload":` can only stand inside a string escaped, so
    // the first plain occurrence ends the schema.
    const mark = text.indexOf(PAYLOAD_MARK);
    const end = text.trimEnd();
    if (mark > 0 && end.endsWith("}")) {
      const payloadText = end.slice(mark + PAYLOAD_MARK.length, -1);
      const schemaText = text.slice(SCHEMA_PREFIX.length, mark);
      try {
        return {
          schemaText: schemaText === "null" ? null : schemaText,
          payload: JSON.parse(payloadText),
          payloadText,
        };
      } catch {
        // Not the layout Connect writes after all: parse the whole text below, which names the error.
      }
    }
  }
  const whole = parse(text, what);
  if (isFramed(whole)) {
    return {
      schemaText: whole.schema === null ? null : JSON.stringify(whole.schema),
      payload: whole.payload,
      payloadText: text,
    };
  }
  return { schemaText: null, payload: whole, payloadText: text };
}

const SCHEMA_PREFIX_BYTES = Buffer.from(SCHEMA_PREFIX);
const PAYLOAD_MARK_BYTES = Buffer.from(PAYLOAD_MARK);
const CLOSE = 0x7d;
const isBlank = (byte: number) => byte === 0x20 || byte === 0x0a || byte === 0x0d || byte === 0x09;

/**
 * The schema texts of the last few records, kept with their bytes: a record whose schema half is
 * byte for byte one of them gets that text without decoding kilobytes of UTF-8 again (a wide
 * row's schema is most of its bytes, and decoding it was a tenth of apply's time).
 */
export class RecentSchemaTexts {
  private readonly entries: [Buffer, string][] = [];

  /**
   * Where the payload mark stands when `bytes` continue, at `start`, with one of the known schema
   * halves: one memcmp instead of searching kilobytes for the mark. A known half is the text
   * before the first mark of an earlier record and ends in `}` or `null`, so the mark after it
   * is this record's first mark too.
   */
  known(bytes: Buffer, start: number): { mark: number; text: string } | undefined {
    // Each entry holds its schema half followed by the payload mark: one compare finds both.
    for (const [known, text] of this.entries) {
      const end = start + known.length;
      if (end <= bytes.length && bytes.compare(known, 0, known.length, start, end) === 0)
        return { mark: end - PAYLOAD_MARK_BYTES.length, text };
    }
    return undefined;
  }

  /** A schema half that known() did not find (so no entry equals it): decoded once and kept. */
  remember(bytes: Buffer): string {
    const text = bytes.toString("utf8");
    // A copy: the slice would keep the whole fetch it came from alive.
    this.entries.unshift([Buffer.concat([bytes, PAYLOAD_MARK_BYTES]), text]);
    if (this.entries.length > RECENT) this.entries.pop();
    return text;
  }
}

/**
 * frame() of a record's bytes, decoding only the payload half to text when the value has
 * Connect's layout (ASCII marks cannot occur inside a UTF-8 multi-byte character, so the byte
 * search finds what the text search would). Anything else goes through frame() whole.
 */
export function frameBytes(bytes: Buffer, what: "key" | "value", schemas: RecentSchemaTexts): Framed {
  // toString would put U+FFFD in place of each bad sequence and store that as the value.
  if (!isUtf8(bytes)) throw new ShadowdbError("DECODE_BAD_UTF8", `the ${what} is not valid UTF-8`);
  const start = SCHEMA_PREFIX_BYTES.length;
  if (bytes.length > start && bytes.compare(SCHEMA_PREFIX_BYTES, 0, start, 0, start) === 0) {
    const known = schemas.known(bytes, start);
    const mark = known?.mark ?? bytes.indexOf(PAYLOAD_MARK_BYTES, start);
    let end = bytes.length;
    while (end > 0 && isBlank(bytes[end - 1]!)) end--;
    if (mark > 0 && bytes[end - 1] === CLOSE) {
      // The schema half is checked when it is first compiled (SchemaCache.lookup).
      checkDepth(bytes, mark, end, what);
      const payloadText = bytes.toString("utf8", mark + PAYLOAD_MARK_BYTES.length, end - 1);
      try {
        const payload = JSON.parse(payloadText);
        const schemaText = known?.text ?? schemas.remember(bytes.subarray(start, mark));
        return { schemaText: schemaText === "null" ? null : schemaText, payload, payloadText };
      } catch {
        // Not the layout Connect writes after all: frame() parses the whole text and names the error.
      }
    }
  }
  checkDepth(bytes, 0, bytes.length, what);
  return frame(bytes.toString("utf8"), what);
}

/** Text from a header or the command line: the same checks as record bytes. */
export function checkedText(bytes: Buffer, what: string): string {
  if (!isUtf8(bytes)) throw new ShadowdbError("DECODE_BAD_UTF8", `the ${what} is not valid UTF-8`);
  checkDepth(bytes, 0, bytes.length, what);
  return bytes.toString("utf8");
}

/**
 * DECODE_TOO_DEEP when the JSON in bytes[start, end) nests deeper than MAX_DEPTH, checked before
 * JSON.parse: parsing nesting costs ~1.5 µs a level, so a 16 MiB record of brackets would hold
 * the event loop for seconds, and the recursive steps after it would run out of stack.
 */
function checkDepth(bytes: Buffer, start: number, end: number, what: string): void {
  const region = bytes.subarray(start, end);
  // At most MAX_DEPTH brackets cannot nest deeper: counted natively, nearly every payload stops here.
  let brackets = 0;
  for (const open of [OPEN_OBJECT, OPEN_ARRAY]) {
    for (let at = region.indexOf(open); at !== -1 && brackets <= MAX_DEPTH; at = region.indexOf(open, at + 1))
      brackets++;
  }
  if (brackets <= MAX_DEPTH) return;
  let depth = 0;
  for (let i = 0; i < region.length; i++) {
    const byte = region[i]!;
    if (byte === QUOTE) {
      // Strings are skipped natively, to the first quote no odd run of backslashes escapes.
      let close = region.indexOf(QUOTE, i + 1);
      while (close !== -1 && escaped(region, close)) close = region.indexOf(QUOTE, close + 1);
      // Unterminated: JSON.parse names the fault.
      if (close === -1) return;
      i = close;
    } else if (byte === OPEN_OBJECT || byte === OPEN_ARRAY) {
      if (++depth > MAX_DEPTH)
        throw new ShadowdbError("DECODE_TOO_DEEP", `the ${what} nests deeper than ${MAX_DEPTH} levels`);
    } else if (byte === CLOSE || byte === CLOSE_ARRAY) depth--;
  }
}

/** Whether the quote at `at` is escaped: an odd run of backslashes stands before it. */
function escaped(bytes: Buffer, at: number): boolean {
  let run = 0;
  while (at - run > 0 && bytes[at - run - 1] === BACKSLASH) run++;
  return run % 2 === 1;
}

const OPEN_OBJECT = 0x7b;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

function isFramed(value: unknown): value is { schema: unknown; payload: unknown } {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return false;
  const keys = Object.keys(value);
  return keys.length === 2 && keys.includes("schema") && keys.includes("payload");
}

/** How many recently used schema texts are compared before the Map is asked. */
const RECENT = 4;

/** A bounded cache of compiled schemas keyed by their JSON text (insertion order evicts the oldest). */
export class SchemaCache<T> {
  private readonly entries = new Map<string, T>();
  private readonly recent: [string, T][] = [];

  constructor(
    private readonly compile: (schema: ConnectSchema) => T,
    private readonly limit = 2048,
  ) {}

  get(schemaText: string): T {
    // Records of a table repeat the same key and value schema: comparing with the last few texts
    // costs a memcmp, where the Map would hash kilobytes of a freshly sliced string per record.
    for (const [text, compiled] of this.recent) if (text === schemaText) return compiled;
    const compiled = this.lookup(schemaText);
    this.recent.unshift([schemaText, compiled]);
    if (this.recent.length > RECENT) this.recent.pop();
    return compiled;
  }

  private lookup(schemaText: string): T {
    let compiled = this.entries.get(schemaText);
    if (compiled === undefined) {
      const bytes = Buffer.from(schemaText);
      checkDepth(bytes, 0, bytes.length, "schema");
      compiled = this.compile(parseSchema(parse(schemaText, "schema")));
      if (this.entries.size >= this.limit) this.entries.delete(this.entries.keys().next().value!);
      this.entries.set(schemaText, compiled);
    }
    return compiled;
  }

  get size(): number {
    return this.entries.size;
  }
}
