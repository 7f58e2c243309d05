/**
 * COPY's text format as the PostgreSQL COPY path writes it: fields escaped so that no value can
 * end a field or a row early, NULL as `\N` (and a literal "\N" not), array literals exactly as the
 * `pg` driver renders array parameters for the unnest path.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import pg from "pg";
import { arrayLiteral, copyEscape, copyField } from "../../src/target/postgres/copy.ts";

/** COPY FROM's reading of one text-format field (the escapes PostgreSQL documents). */
function readField(field: string): string | null {
  if (field === "\\N") return null;
  const named: Record<string, string> = { b: "\b", f: "\f", n: "\n", r: "\r", t: "\t", v: "\v" };
  return field.replace(/\\(.)/gs, (_, c: string) => named[c] ?? c);
}

// The driver's own conversion of a parameter (not in its type declarations, but public on the module).
const driver = (pg as unknown as { utils: { prepareValue(v: unknown): unknown } }).utils;

test("escapes backslash, tab, newline and carriage return, and nothing else", () => {
  assert.equal(copyEscape("plain text, ü 😀"), "plain text, ü 😀");
  assert.equal(copyEscape("a\tb\nc\r\nd\\e"), "a\\tb\\nc\\r\\nd\\\\e");
  assert.equal(copyEscape("\\N"), "\\\\N");
  assert.equal(copyEscape("\\."), "\\\\.");
  assert.equal(copyEscape("\"quoted\" 'single' \v\f\b"), "\"quoted\" 'single' \v\f\b");
});

test("NULL is \\N; the empty string, the text \\N and the text NULL are values", () => {
  assert.equal(copyField(null), "\\N");
  assert.equal(copyField(undefined), "\\N");
  assert.equal(copyField(""), "");
  assert.equal(readField(copyField("\\N")), "\\N");
  assert.equal(copyField("NULL"), "NULL");
  assert.equal(copyField([null, "NULL", ""]), '{NULL,"NULL",""}');
});

test("numbers, booleans and bigints in the form the driver sends them", () => {
  assert.equal(copyField(1.5), "1.5");
  assert.equal(copyField(Number.NaN), "NaN");
  assert.equal(copyField(Number.NEGATIVE_INFINITY), "-Infinity");
  assert.equal(copyField(-0), "0", "postgresParam sends a float's -0 as the text '-0'");
  assert.equal(copyField(true), "true");
  assert.equal(copyField(12345678901234567890n), "12345678901234567890");
});

test("bytes in bytea's hex form, the backslash escaped for COPY", () => {
  assert.equal(copyField(Buffer.from([0xde, 0xad, 0x00])), "\\\\xdead00");
  assert.equal(readField(copyField(Buffer.alloc(0))), "\\x");
  assert.equal(copyField([Buffer.from([1]), null]), "{\\\\\\\\x01,NULL}");
  assert.equal(readField(copyField([Buffer.from([1]), null])), "{\\\\x01,NULL}");
});

test("objects as JSON", () => {
  assert.equal(copyField({ a: "x\ty" }), '{"a":"x\\\\ty"}');
  assert.equal(readField(copyField({ a: "x\ty" })), '{"a":"x\\ty"}');
});

test("any text survives a COPY field and contains no raw separator", () => {
  fc.assert(
    fc.property(fc.string({ unit: "binary" }), (s) => {
      const field = copyField(s);
      assert.ok(!/[\t\n\r]/.test(field));
      assert.equal(readField(field), s);
    }),
  );
});

const element = fc.oneof(
  fc.string({ unit: "binary" }),
  fc.constantFrom("", "NULL", "\\N", '"', "\\", "{", "}", ",", " "),
  fc.constant(null),
  fc.double(),
  fc.integer(),
  fc.boolean(),
  fc.uint8Array().map((a) => Buffer.from(a)),
  fc.dictionary(fc.string(), fc.string()),
);

test("array literals are the driver's own, at any depth", () => {
  const { tree } = fc.letrec((tie) => ({
    tree: fc.array(fc.oneof({ depthSize: "small" }, element, tie("tree")), { maxLength: 5 }),
  }));
  fc.assert(
    fc.property(tree, (values) => {
      assert.equal(arrayLiteral(values as unknown[]), driver.prepareValue(values));
      assert.equal(readField(copyField(values)), driver.prepareValue(values));
    }),
  );
});
