/** Records set aside: their letters, as the store will hold them, and what the store took. */
import type { Item } from "../batch/items.ts";
import type { ShadowdbError } from "../errors.ts";
import { storableLetter } from "../target/dead-letter-text.ts";
import type { DeadLetter } from "../target/dialect.ts";

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

/** A refused letter's last try: coordinates, code and raw bytes, with a fixed ASCII message. */
export function reduced(letter: DeadLetter, refused: ShadowdbError | undefined): DeadLetter {
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
