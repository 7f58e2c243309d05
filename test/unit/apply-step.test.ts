/** ApplyStep over the recording fake of our Target interface: hooks are optional, the apply is not. */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { ApplyContext } from "../../src/apply/context.ts";
import { Positions } from "../../src/apply/positions.ts";
import { ApplyStep } from "../../src/apply/step.ts";
import { ShadowdbError } from "../../src/errors.ts";
import { createLogger } from "../../src/log.ts";
import { TargetTables } from "../../src/target/tables.ts";
import { FakeTarget, fakeClassify } from "../support/fake-target.ts";

test("an ApplyStep without hooks still applies (sets aside, moves the position)", async () => {
  const target = new FakeTarget();
  const ctx: ApplyContext = {
    target,
    classify: fakeClassify,
    tables: new TargetTables(target, createLogger("silent")),
    groupId: "g",
    mappingFor: () => undefined,
    onError: "dlq",
    overlay: false,
    positions: new Positions(),
    onDeadLetters: () => undefined,
  };
  const record = { topic: "t", partition: 0, offset: "7", key: null, value: Buffer.from("x") };
  const error = new ShadowdbError("DECODE_MALFORMED_JSON", "not JSON");
  await new ApplyStep(ctx, createLogger("silent")).apply([{ record, error }], {
    signal: new AbortController().signal,
  });
  assert.deepEqual(await target.readPositions("g"), [{ topic: "t", partition: 0, offset: "8" }]);
  assert.equal(target.committed().length, 1);
});
