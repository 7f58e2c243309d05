import assert from "node:assert/strict";
import { test } from "node:test";
import { RecordDecoder, type RowChange } from "../../src/decode/index.ts";
import { edited, fieldSchema } from "../support/hostile.ts";

// A schema `name` is looked up in tables of known logical types: Object.prototype's own names
// ("constructor", "toString", …) are names like any other, not types.
test("a logical-type name that is an Object.prototype member is an unknown name, like any other", () => {
  const decoder = new RecordDecoder();
  // Edited through JSON.parse like the others (which rounds int64s past 2^53 the same way).
  const plain = decoder.decode(edited(() => undefined)) as RowChange;
  const unknown = decoder.decode(
    edited((v) => (fieldSchema(v, "c_bigint").name = "com.example.Unknown")),
  ) as RowChange;
  assert.equal(unknown.after!.c_bigint, plain.after!.c_bigint);
  for (const name of ["constructor", "toString", "__proto__", "hasOwnProperty", "valueOf"]) {
    const event = decoder.decode(edited((v) => (fieldSchema(v, "c_bigint").name = name))) as RowChange;
    assert.equal(event.after!.c_bigint, plain.after!.c_bigint, name);
    const type = event.columns.find((c) => c.name === "c_bigint")!.type;
    // The name is kept (as any unknown logical name is); the type is int64's.
    assert.deepEqual(
      type,
      { ...unknown.columns.find((c) => c.name === "c_bigint")!.type, logical: name },
      name,
    );
  }
});
