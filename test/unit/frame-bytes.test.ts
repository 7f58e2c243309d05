/**
 * frameBytes (the schema half compared as bytes, only the payload decoded) gives exactly what
 * frame() of the whole text gives: on every recorded message, and on the edges the byte path
 * handles itself (trailing whitespace, non-ASCII text, a schema that changes, malformed input).
 */
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { test } from "node:test";
import { frame, frameBytes, RecentSchemaTexts } from "../../src/decode/frame.ts";
import { isShadowdbError } from "../../src/errors.ts";
import { isJsonFixture, readFixture, recordedDir, toRecord } from "../support/fixtures.ts";

const same = (bytes: Buffer, schemas = new RecentSchemaTexts()) =>
  assert.deepEqual(frameBytes(bytes, "value", schemas), frame(bytes.toString("utf8"), "value"));

test("every recorded message frames as frame() frames its text", () => {
  const files = readdirSync(recordedDir, { recursive: true, encoding: "utf8" }).filter(isJsonFixture);
  let framed = 0;
  for (const file of files) {
    const schemas = new RecentSchemaTexts();
    for (const message of readFixture(file).messages) {
      const { value } = toRecord(message);
      if (value === null) continue;
      same(value, schemas);
      framed++;
    }
  }
  assert.ok(framed > 100, `only ${framed} recorded values`);
});

const schema = (name: string) => `{"type":"struct","fields":[{"type":"string","field":"${name}"}]}`;
const record = (name: string, payload: string, tail = "") =>
  Buffer.from(`{"schema":${schema(name)},"payload":${payload}}${tail}`);

test("edges: whitespace after the value, non-ASCII text, a schema that changes, no schema", () => {
  const schemas = new RecentSchemaTexts();
  same(record("a", '{"a":"x"}', "\n  "), schemas);
  same(record("a", '{"a":"Zürich, 東京, ½ — \\"q\\""}'), schemas);
  const first = frameBytes(record("a", '{"a":"1"}'), "value", schemas);
  const other = frameBytes(record("b", '{"b":"2"}'), "value", schemas);
  const again = frameBytes(record("a", '{"a":"3"}'), "value", schemas);
  assert.equal(first.schemaText, schema("a"));
  assert.equal(other.schemaText, schema("b"));
  assert.equal(again.schemaText, schema("a"));
  same(Buffer.from('{"schema":null,"payload":{"a":1}}'), schemas);
  same(Buffer.from('{"a":1,"b":"no envelope"}'), schemas);
  same(Buffer.from('{"schema":{"type":"string"},"payload":"a,\\"payload\\":inside"}'), schemas);
  // A known schema half followed by something other than the mark: searched for, not assumed.
  same(Buffer.from('{"schema":{"type":"string"} ,"payload":"spaced"}'), schemas);
  same(Buffer.from('{"schema":{"type":"string"},"payloads":"x","payload":"y"}'), schemas);
});

test("malformed input is the same typed error as frame()'s", () => {
  for (const text of ['{"schema":{"type":"string"},"payload":{"a":}', '{"schema":', "not json"]) {
    assert.throws(
      () => frameBytes(Buffer.from(text), "value", new RecentSchemaTexts()),
      (error: unknown) => isShadowdbError(error, "DECODE_MALFORMED_JSON"),
    );
  }
});
