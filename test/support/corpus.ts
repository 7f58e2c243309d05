import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

/** test/fixtures/corpus: real messages from public projects (provenance in its SOURCES.md). */
export const corpusDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../fixtures/corpus");

export interface CorpusMessage {
  file: string;
  /** The message value exactly as stored (one message; files holding an array are split). */
  value: Buffer;
}

export function corpusMessages(): CorpusMessage[] {
  const out: CorpusMessage[] = [];
  for (const folder of ["postgres", "mysql", "control", "smt"]) {
    for (const name of readdirSync(path.join(corpusDir, folder)).sort()) {
      const file = `${folder}/${name}`;
      const text = readFileSync(path.join(corpusDir, file), "utf8");
      const parsed = JSON.parse(text) as unknown;
      if (Array.isArray(parsed)) {
        parsed.forEach((m, i) => {
          out.push({ file: `${file}#${i}`, value: Buffer.from(JSON.stringify(m)) });
        });
      } else out.push({ file, value: Buffer.from(text) });
    }
  }
  return out;
}

export function corpusFile(file: string): Buffer {
  return readFileSync(path.join(corpusDir, file));
}
