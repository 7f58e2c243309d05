import { type ErrorCode, ShadowdbError } from "../errors.ts";
import type { Coordinates } from "./events.ts";
import { preview } from "./limits.ts";

/** A message quotes record text in bounded previews; this bounds whatever else it says too. */
const MESSAGE_CHARS = 1000;

/** A record that cannot be decoded: the code says why, `at` says which record (for the dead-letter store). */
export class DecodeError extends ShadowdbError {
  readonly at: Coordinates;

  constructor(code: ErrorCode, message: string, at: Coordinates, options?: { cause?: unknown }) {
    super(code, `${preview(message, MESSAGE_CHARS)} (${at.topic}[${at.partition}]@${at.offset})`, options);
    this.name = "DecodeError";
    this.at = at;
  }

  /** Whatever went wrong inside decoding leaves as a DecodeError; nothing escapes untyped. */
  static wrap(error: unknown, at: Coordinates): DecodeError {
    if (error instanceof DecodeError) return error;
    if (error instanceof ShadowdbError)
      return new DecodeError(error.code, error.message, at, { cause: error });
    const message = preview(error instanceof Error ? error.message : String(error));
    return new DecodeError("DECODE_BAD_VALUE", `unexpected failure: ${message}`, at, { cause: error });
  }
}
