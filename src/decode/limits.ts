/**
 * What decoding refuses before doing work that grows faster than the record: every limit here is
 * at or beyond what a target column can hold, so nothing a target could store is refused.
 * docs/decoding.md lists them.
 */

/** PostgreSQL numeric: 131072 digits before the point, 16383 after (MySQL/MariaDB hold fewer). */
export const MAX_INTEGER_DIGITS = 131_072;
export const MAX_FRACTION_DIGITS = 16_383;

/**
 * Bytes of a two's-complement unscaled value below 10^(131072 + 16383): a longer one cannot be
 * any decimal a target holds, whatever its scale (61,230 bytes, 81,640 characters of base64).
 */
export const MAX_UNSCALED_BYTES = Math.ceil(
  ((MAX_INTEGER_DIGITS + MAX_FRACTION_DIGITS) * Math.log2(10) + 1) / 8,
);

/**
 * Decimal digits one record may turn into text: one decimal of the largest size PostgreSQL holds
 * and 100,000 digits more. Converting 147,455 digits takes 40-60 ms (V8's BigInt toString); a
 * record of seven held the event loop for 300-600 ms, and a 16 MiB record of them for seconds.
 */
export const MAX_DIGITS_PER_RECORD = 262_144;

/** PostgreSQL bit/varbit: 83886080 bits (MySQL BIT: 64). */
export const MAX_BITS = 83_886_080;

/** Nesting of a schema or a schemaless value; Debezium's deepest (a row's array of structs) is ~6. */
export const MAX_DEPTH = 64;

/** A column name: MySQL allows 64 characters, PostgreSQL 63 bytes; neither a control character. */
export const MAX_NAME_CHARS = 64;

/** How much of a record's own text an error message (and so a log line, a dead letter) quotes. */
export const PREVIEW_CHARS = 200;

/**
 * Record text made safe to quote: at most `max` characters, control characters, NUL, lone
 * surrogates and line separators escaped, the length of what was cut said.
 */
export function preview(text: string, max = PREVIEW_CHARS): string {
  const head = text.length > max ? text.slice(0, max) : text;
  const escaped = head.replace(
    // biome-ignore lint/suspicious/noControlCharactersInRegex: escaping them is the point.
    /[\u0000-\u001f\u007f-\u009f\u2028\u2029]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
  return text.length > max ? `${escaped}… (${text.length - max} more characters)` : escaped;
}

/** A column name no target can have (too long, or with a control character), or undefined when fine. */
export function badName(name: string): string | undefined {
  if (name.length > MAX_NAME_CHARS) return `is longer than ${MAX_NAME_CHARS} characters`;
  // A loop, not a regex: schemaless rows have every name checked per record (a regex was ~6 us a row).
  for (let i = 0; i < name.length; i++) {
    const code = name.charCodeAt(i);
    if (code < 0x20 || code === 0x7f) return "holds a control character";
  }
  return undefined;
}
