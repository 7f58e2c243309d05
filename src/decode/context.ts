/**
 * Per-record decoding state. JSON.parse turns int64 values above 2^53 (and decimals sent as JSON
 * numbers) into lossy doubles; when a decoder meets one, it asks for the number's source text,
 * found here by field name and order of appearance. The scan runs only for records that need it.
 */
export type BinaryHandlingMode = "bytes" | "base64" | "base64-url-safe" | "hex";

const numberEntry = /"((?:[^"\\]|\\.)*)"\s*:\s*(-?\d[\d.eE+-]*|\[(?:[\s,.eE+\-\d]|null)*\])/g;

export class DecodeContext {
  private index: Map<string, { texts: string[]; used: boolean[] }> | undefined;

  constructor(
    private readonly text: string,
    readonly binaryMode: BinaryHandlingMode,
  ) {}

  private entries(name: string) {
    if (!this.index) {
      this.index = new Map();
      for (const m of this.text.matchAll(numberEntry)) {
        const key = JSON.parse(`"${m[1]}"`) as string;
        let entry = this.index.get(key);
        if (!entry) {
          entry = { texts: [], used: [] };
          this.index.set(key, entry);
        }
        entry.texts.push(m[2]!);
        entry.used.push(false);
      }
    }
    return this.index.get(name);
  }

  /** The source text of the next not yet used number named `name` that parses to `lossy`. */
  numberText(name: string, lossy: number): string | undefined {
    const entry = this.entries(name);
    if (!entry) return undefined;
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
    const entry = this.entries(name);
    if (!entry) return undefined;
    for (let i = 0; i < entry.texts.length; i++) {
      const text = entry.texts[i]!;
      if (entry.used[i] || !text.startsWith("[")) continue;
      const parts =
        text.slice(1, -1).trim() === ""
          ? []
          : text
              .slice(1, -1)
              .split(",")
              .map((p) => p.trim());
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
