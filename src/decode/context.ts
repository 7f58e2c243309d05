/**
 * Per-record decoding state. JSON.parse turns int64 values above 2^53 (and decimals sent as JSON
 * numbers) into lossy doubles; when a decoder meets one, it asks for the number's source text,
 * found by its member name and order of appearance: searched per name for the first few names a
 * record asks about, then indexed in one pass.
 */
import { ShadowdbError } from "../errors.ts";
import { MAX_DIGITS_PER_RECORD, preview } from "./limits.ts";

export type BinaryHandlingMode = "bytes" | "base64" | "base64-url-safe" | "hex";

/** Names searched one by one before the whole text is indexed (a search per name is a pass). */
const SEARCHES_BEFORE_INDEX = 8;

const patterns = new Map<string, RegExp>();

/** `"name": <number or flat number array>`, the name as JSON.stringify writes it. */
function patternFor(name: string): RegExp {
  let pattern = patterns.get(name);
  if (!pattern) {
    const quoted = JSON.stringify(name).replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    pattern = new RegExp(`${quoted}\\s*:\\s*(-?\\d[\\d.eE+-]*|\\[(?:[\\s,.eE+\\-\\d]|null)*\\])`, "g");
    if (patterns.size < 10_000) patterns.set(name, pattern);
  }
  return pattern;
}

/** A number, or a flat array of numbers and nulls, where a member's value starts. */
const numberAt = /-?\d[\d.eE+-]*|\[(?:[\s,.eE+\-\d]|null)*\]/y;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COLON = 0x3a;

function skipBlanks(text: string, at: number): number {
  let i = at;
  for (
    let c = text.charCodeAt(i);
    c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
    c = text.charCodeAt(++i)
  );
  return i;
}

/**
 * Every `"name": <number or flat number array>` of the text, by the name as the text writes it
 * (escapes and all), in order: one pass, strings skipped natively. For a record that asks about
 * many names: a search per name is a pass each, and a wide record of big int64s asked one per
 * column (100,000 members did not finish in minutes).
 */
function numberMembers(text: string): Map<string, string[]> {
  const members = new Map<string, string[]>();
  for (let i = 0; i < text.length; i++) {
    if (text.charCodeAt(i) !== QUOTE) continue;
    let close = text.indexOf('"', i + 1);
    while (close !== -1 && escaped(text, close)) close = text.indexOf('"', close + 1);
    if (close === -1) break;
    const after = skipBlanks(text, close + 1);
    if (text.charCodeAt(after) === COLON) {
      numberAt.lastIndex = skipBlanks(text, after + 1);
      const value = numberAt.exec(text);
      if (value) {
        const name = text.slice(i + 1, close);
        const texts = members.get(name);
        if (texts) texts.push(value[0]);
        else members.set(name, [value[0]]);
      }
    }
    i = close;
  }
  return members;
}

/** Whether the quote at `at` is escaped: an odd run of backslashes stands before it. */
function escaped(text: string, at: number): boolean {
  let run = 0;
  while (at - run > 0 && text.charCodeAt(at - run - 1) === BACKSLASH) run++;
  return run % 2 === 1;
}

interface Occurrences {
  texts: string[];
  used: boolean[];
}

export class DecodeContext {
  private members: Map<string, string[]> | undefined;
  private found: Map<string, Occurrences> | undefined;
  /** Decimal digits this record has turned into text so far (see MAX_DIGITS_PER_RECORD). */
  private digits = 0;

  constructor(
    private readonly text: string,
    readonly binaryMode: BinaryHandlingMode,
  ) {}

  private occurrences(name: string): Occurrences {
    this.found ??= new Map();
    let entry = this.found.get(name);
    if (!entry) {
      let texts: string[];
      if (this.found.size < SEARCHES_BEFORE_INDEX) {
        // A native search per name is fastest for the few a record usually asks about. JSON.parse
        // accepted the text, so a match whose quote is not escaped is the member's own key.
        texts = [];
        for (const m of this.text.matchAll(patternFor(name)))
          if (!escaped(this.text, m.index)) texts.push(m[1]!);
      } else {
        this.members ??= numberMembers(this.text);
        texts = this.members.get(JSON.stringify(name).slice(1, -1)) ?? [];
      }
      entry = { texts, used: texts.map(() => false) };
      this.found.set(name, entry);
    }
    return entry;
  }

  /**
   * Charges `count` digits of decimal conversion to this record, refusing it (before the work)
   * when the record's total passes MAX_DIGITS_PER_RECORD. Small decimals are never charged.
   */
  spendDigits(count: number, field: string): void {
    this.digits += count;
    if (this.digits > MAX_DIGITS_PER_RECORD) {
      throw new ShadowdbError(
        "DECODE_VALUE_TOO_LARGE",
        `field ${preview(field)}: the record's decimals pass ${MAX_DIGITS_PER_RECORD} digits in all`,
      );
    }
  }

  /** The source text of the next not yet used number named `name` that parses to `lossy`. */
  numberText(name: string, lossy: number): string | undefined {
    const entry = this.occurrences(name);
    for (let i = 0; i < entry.texts.length; i++) {
      if (!entry.used[i] && Number(entry.texts[i]) === lossy) {
        entry.used[i] = true;
        return entry.texts[i];
      }
    }
    return undefined;
  }

  /** The element texts of the next not yet used number array named `name` matching `lossy`. */
  arrayTexts(name: string, lossy: readonly unknown[]): string[] | undefined {
    const entry = this.occurrences(name);
    for (let i = 0; i < entry.texts.length; i++) {
      const text = entry.texts[i]!;
      if (entry.used[i] || !text.startsWith("[")) continue;
      const inner = text.slice(1, -1).trim();
      const parts = inner === "" ? [] : inner.split(",").map((p) => p.trim());
      if (
        parts.length === lossy.length &&
        parts.every((p, j) => (p === "null" ? null : Number(p)) === lossy[j])
      ) {
        entry.used[i] = true;
        return parts;
      }
    }
    return undefined;
  }
}
