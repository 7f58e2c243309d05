/** Records set aside: their letters, as the store will hold them, and what the store took. */
import type { Item } from "../batch/items.ts";
import { ShadowdbError } from "../errors.ts";
import { storableLetter } from "../target/dead-letter-text.ts";
import type { DeadLetter } from "../target/dialect.ts";
import type { ApplyContext } from "./context.ts";

/**
 * A record set aside, reported once the commit that moved its position past it is in. `stored`
 * says what the store holds: the letter; a reduced one (the store refused the letter for good, so
 * its message is replaced by a fixed one, `refused` says why); or nothing (the reduced letter was
 * refused too: the record is skipped, and the log and the DEAD_LETTER_UNSTORABLE count tell).
 */
export interface SetAside {
  letter: DeadLetter;
  stored: "letter" | "reduced" | "nothing";
  refused?: ShadowdbError;
}

/** The record's letter, its text as the store will hold it: what is logged is what is stored. */
export function deadLetter(item: Item, error: ShadowdbError): DeadLetter {
  return storableLetter({
    topic: item.record.topic,
    partition: item.record.partition,
    offset: item.record.offset,
    key: item.record.key,
    value: item.record.value,
    code: error.code,
    message: error.message,
  });
}

/**
 * How a new letter goes to the store first: whole, or reduced at once when the store cannot take
 * it in one statement. Decided by size, before sending: MariaDB answers an INSERT past
 * max_allowed_packet by closing the connection, which looks like an outage and would be retried
 * forever.
 */
export function firstTry(ctx: ApplyContext, letter: DeadLetter): SetAside {
  const why = ctx.target.letterTooLarge(ctx.groupId, letter);
  if (why === undefined) return { letter, stored: "letter" };
  const sizes = `key ${letter.key?.length ?? 0} bytes, value ${letter.value?.length ?? 0} bytes`;
  return {
    letter,
    stored: "reduced",
    refused: new ShadowdbError("DEAD_LETTER_TOO_LARGE", `${sizes}: ${why}`),
  };
}

/** What is tried, in order, after `first`: a letter that goes reduced at once is not tried whole. */
export function tries(first: SetAside): readonly SetAside["stored"][] {
  return first.stored === "letter" ? ["letter", "reduced", "nothing"] : ["reduced", "nothing"];
}

/**
 * A refused letter's last try: coordinates, code and raw bytes, with a fixed ASCII message; too
 * large for the store, without the bytes (Kafka still has the record at its coordinates).
 */
export function reduced(letter: DeadLetter, refused: ShadowdbError | undefined): DeadLetter {
  if (refused?.code === "DEAD_LETTER_TOO_LARGE") {
    return {
      ...letter,
      key: null,
      value: null,
      message: `the record's key and value are too large for the dead-letter store (${refused.message}); Kafka has the record at these coordinates, shadowdb's log the message`,
    };
  }
  const why = refused ? ` (${refused.code})` : "";
  return { ...letter, message: `the store refused this letter's message${why}; shadowdb's log has it` };
}

export function toStore(setAside: SetAside[]): DeadLetter[] {
  const letters: DeadLetter[] = [];
  for (const { letter, stored, refused } of setAside) {
    if (stored === "letter") letters.push(letter);
    else if (stored === "reduced") letters.push(reduced(letter, refused));
  }
  return letters;
}
