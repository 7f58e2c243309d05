/** The parsed JSON a record's payload is, before it is interpreted. */
import { ShadowdbError } from "../errors.ts";

export type Payload = Record<string, unknown>;

export function isObject(value: unknown): value is Payload {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

export function envelopeError(message: string): never {
  throw new ShadowdbError("DECODE_BAD_ENVELOPE", message);
}
