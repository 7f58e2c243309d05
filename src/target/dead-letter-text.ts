/**
 * A dead letter's text as every store can hold it. PostgreSQL's text refuses NUL (22021, which
 * stopped shadowdb on every restart), both drivers send a lone surrogate as U+FFFD without a word,
 * and an error message can quote a whole field name or value. So NUL and lone surrogates are
 * written as JavaScript escapes (`\u0000`, `\ud800`) and a message is cut at MESSAGE_CHARS with a
 * marker (ASCII, as a
 * legacy character set holds it) saying how much was cut. The text is for people: the record itself is its raw key and
 * value, stored as bytes unchanged. A backslash is not escaped, so a message that already said
 * `\u0000` reads the same; the raw bytes settle it. Applying it twice changes nothing.
 */
import type { DeadLetter } from "./dialect.ts";

/** A message's bound, in UTF-16 units: at most 24 KiB of UTF-8, within MySQL's 64 KiB `text`. */
export const MESSAGE_CHARS = 8192;
/** Kafka's own bound on a topic name, and the MySQL column's. */
const TOPIC_CHARS = 249;

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

const escaped = (unit: number) => `\\u${unit.toString(16).padStart(4, "0")}`;

/**
 * `text` escaped from its start while the result stays within `budget` units; `end` is where
 * the input stopped. Work is bounded by the budget, whatever the text's length.
 */
function escapeWithin(text: string, budget: number): { text: string; end: number } {
  const out: string[] = [];
  let length = 0;
  let i = 0;
  while (i < text.length) {
    const unit = text.charCodeAt(i);
    let piece: string;
    if (unit === 0) piece = escaped(0);
    else if (unit >= 0xd800 && unit <= 0xdbff) {
      const low = text.charCodeAt(i + 1);
      piece = low >= 0xdc00 && low <= 0xdfff ? text.slice(i, i + 2) : escaped(unit);
    } else if (unit >= 0xdc00 && unit <= 0xdfff) piece = escaped(unit);
    else piece = text[i]!;
    if (length + piece.length > budget) break;
    out.push(piece);
    length += piece.length;
    // A surrogate pair is copied whole; an escape stands for one unit.
    i += piece.length === 2 ? 2 : 1;
  }
  return { text: out.join(""), end: i };
}

const cutMarker = (units: number) => ` ... [cut: ${units} more characters]`;

/** `text` without NUL or lone surrogates, at most `max` UTF-16 units long (a cut is marked). */
export function storableText(text: string, max = MESSAGE_CHARS): string {
  if (text.length <= max && !text.includes("\u0000") && !LONE_SURROGATE.test(text)) return text;
  const whole = escapeWithin(text, max);
  if (whole.end === text.length) return whole.text;
  // The marker with the largest count it can show: the cut text plus its marker stay within max.
  const cut = escapeWithin(text, max - cutMarker(text.length).length);
  return cut.text + cutMarker(text.length - cut.end);
}

/** The letter with its text made storable; key and value (bytes) are kept as they are. */
export function storableLetter(letter: DeadLetter): DeadLetter {
  const topic = storableText(letter.topic, TOPIC_CHARS);
  const message = storableText(letter.message);
  if (topic === letter.topic && message === letter.message) return letter;
  return { ...letter, topic, message };
}
