/**
 * JsonConverter framing: `{"schema":…,"payload":…}` or a bare payload. The schema half repeats on
 * every record of a table and is most of its bytes, so it is cut out as text, compiled once and
 * looked up by that text; only the payload half is parsed per record.
 */
import { ShadowdbError } from "../errors.ts";
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
    throw new ShadowdbError(
      "DECODE_MALFORMED_JSON",
      `${what} is not valid JSON: ${(error as Error).message}`,
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
