/**
 * Per-record decoding state. JSON.parse turns int64 values above 2^53 (and decimals sent as JSON
 * numbers) into lossy doubles; when a decoder meets one, it asks for the number's source text,
 * found by its member name and order of appearance. Only the names asked for are searched.
 */
import { ShadowdbError } from "../errors.ts";
import { MAX_DIGITS_PER_RECORD, preview } from "./limits.ts";

export type BinaryHandlingMode = "bytes" | "base64" | "base64-url-safe" | "hex";

const patterns = new Map<string, RegExp>();

/** `"name": <number or flat number array>`; a quote inside a JSON string is escaped, so no false hits. */
function patternFor(name: string): RegExp {
  let pattern = patterns.get(name);
  if (!pattern) {
    const quoted = JSON.stringify(name).replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    pattern = new RegExp(`${quoted}\\s*:\\s*(-?\\d[\\d.eE+-]*|\\[(?:[\\s,.eE+\\-\\d]|null)*\\])`, "g");
    if (patterns.size < 10_000) patterns.set(name, pattern);
  }
  return pattern;
}

interface Occurrences {
  texts: string[];
  used: boolean[];
}

export class DecodeContext {
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
      const texts = Array.from(this.text.matchAll(patternFor(name)), (m) => m[1]!);
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
