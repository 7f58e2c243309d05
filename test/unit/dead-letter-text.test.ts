/** A dead letter's text as every store holds it (src/target/dead-letter-text.ts). */
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { MESSAGE_CHARS, storableLetter, storableText } from "../../src/target/dead-letter-text.ts";

const wellFormed = (text: string) => (text as string & { isWellFormed(): boolean }).isWellFormed();

test("NUL and lone surrogates are written as JavaScript escapes; pairs and other text are kept", () => {
  assert.equal(storableText("a\u0000b"), "a\\u0000b");
  assert.equal(storableText("field q\ud800ty"), "field q\\ud800ty");
  assert.equal(storableText("\udc00x\ud83d"), "\\udc00x\\ud83d");
  assert.equal(storableText("emoji 😀, é, \u0001\t"), "emoji 😀, é, \u0001\t");
  const plain = "value is not valid JSON";
  assert.equal(storableText(plain), plain, "the same string, untouched");
});

test("a long message is cut at MESSAGE_CHARS with an ASCII marker saying how much was cut", () => {
  const long = "q".repeat(100_000);
  const cut = storableText(long);
  assert.equal(cut.length <= MESSAGE_CHARS, true);
  const marker = / \.\.\. \[cut: (\d+) more characters\]$/.exec(cut);
  assert.ok(marker, cut.slice(-60));
  assert.equal(cut.length - marker[0].length + Number(marker[1]), long.length, "kept + cut = all");
  // A cut never splits a surrogate pair nor an escape.
  const pairs = "😀".repeat(MESSAGE_CHARS);
  assert.ok(wellFormed(storableText(pairs)));
  const nuls = "\u0000".repeat(MESSAGE_CHARS);
  assert.match(storableText(nuls), /^(\\u0000)+ \.\.\. \[cut: \d+ more characters\]$/);
});

test("for any text: no NUL, well-formed, within its bound, and a second pass changes nothing", () => {
  fc.assert(
    fc.property(
      fc.oneof(
        fc.string({ unit: "binary", maxLength: 300 }),
        fc.string({
          unit: fc.integer({ min: 0, max: 0xffff }).map((u) => String.fromCharCode(u)),
          maxLength: 300,
        }),
      ),
      fc.integer({ min: 60, max: 400 }),
      (text, max) => {
        const out = storableText(text, max);
        assert.ok(!out.includes("\u0000"));
        assert.ok(wellFormed(out));
        assert.ok(out.length <= max);
        assert.equal(storableText(out, max), out);
        if (out === text) assert.ok(wellFormed(text) && !text.includes("\u0000") && text.length <= max);
      },
    ),
    { numRuns: 2000 },
  );
});

test("storableLetter makes topic and message storable and keeps the raw bytes as they are", () => {
  const key = Buffer.from([0, 0xff, 0xfe]);
  const value = Buffer.from([0, 0, 0, 0, 1, 0xc3]);
  const letter = {
    topic: "t",
    partition: 0,
    offset: "7",
    key,
    value,
    code: "DECODE_MALFORMED_JSON" as const,
    message: "Unexpected token '\u0000'",
  };
  const stored = storableLetter(letter);
  assert.equal(stored.message, "Unexpected token '\\u0000'");
  assert.equal(stored.key, key);
  assert.equal(stored.value, value);
  const clean = { ...letter, message: "fine" };
  assert.equal(storableLetter(clean), clean);
});
