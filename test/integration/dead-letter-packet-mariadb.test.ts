/**
 * A dead letter larger than MariaDB takes in one statement (max_allowed_packet), on the real
 * MariaDB without Kafka: the server answers such an INSERT by closing the connection, which looks
 * like an outage, so the letter must be stored reduced (no key, no value) before it is sent, not
 * retried forever. A letter that fits is still stored whole, bytes and all.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, test } from "node:test";
import mysql from "mysql2/promise";
import type { ApplyContext } from "../../src/apply/context.ts";
import type { SetAside } from "../../src/apply/letters.ts";
import { Positions } from "../../src/apply/positions.ts";
import { ApplyStep } from "../../src/apply/step.ts";
import { prepareItems } from "../../src/batch/items.ts";
import { RecordDecoder } from "../../src/decode/index.ts";
import { createLogger } from "../../src/log.ts";
import { classifyMysql } from "../../src/target/mysql/errors.ts";
import { MysqlTarget } from "../../src/target/mysql/target.ts";
import { TargetTables } from "../../src/target/tables.ts";
import { stackEnv } from "../../stack/layout.ts";

const url = process.env.SHADOWDB_MY_SHADOW_URL ?? stackEnv().SHADOWDB_MY_SHADOW_URL;
const suffix = randomBytes(4).toString("hex");
const table = { schema: "", name: `shadowdb_dead_letters_packet_${suffix}` };
const groupId = `shadowdb-packet-${suffix}`;
const target = new MysqlTarget(url, table);
let conn: mysql.Connection;
let maxPacket: number;

before(async () => {
  conn = await mysql.createConnection({ uri: url, supportBigNumbers: true, bigNumberStrings: true });
  const [rows] = await conn.query("SELECT @@max_allowed_packet AS n");
  maxPacket = Number((rows as { n: string | number }[])[0]!.n);
  await target.prepare();
});

after(async () => {
  await target.close();
  await conn.query(`DROP TABLE IF EXISTS \`${table.name}\``);
  await conn.query("DELETE FROM shadowdb_positions WHERE group_id = ?", [groupId]);
  await conn.end();
});

function context(reported: SetAside[]): ApplyContext {
  return {
    target,
    classify: classifyMysql,
    tables: new TargetTables(target, createLogger("silent")),
    groupId,
    // No mapping: the records are set aside before any table is looked at.
    mappingFor: () => undefined,
    onError: "dlq",
    overlay: false,
    positions: new Positions(),
    onDeadLetters: (setAside) => reported.push(...setAside),
  };
}

/** Applies `value` as a record the decoder sets aside (larger than decode.maxRecordBytes), within 30 s. */
async function setAside(offset: number, value: Buffer, maxRecordBytes: number) {
  const reported: SetAside[] = [];
  const ctx = context(reported);
  ctx.positions.load(await target.readPositions(groupId));
  const record = { topic: "lo.packet", partition: 0, offset: String(offset), key: Buffer.from("k1"), value };
  const items = prepareItems([record], new RecordDecoder({ maxRecordBytes }));
  assert.equal(items[0]!.error?.code, "DECODE_OVERSIZED");
  let retries = 0;
  // Before the fix: the same letter, retried with backoff until the signal gives up.
  await new ApplyStep(ctx, createLogger("silent"), { retrying: () => retries++ }).apply(items, {
    signal: AbortSignal.timeout(30_000),
  });
  const [rows] = await conn.query(
    `SELECT record_key, LENGTH(record_value) AS length, code, message FROM \`${table.name}\`
      WHERE group_id = ? AND kafka_offset = ?`,
    [groupId, offset],
  );
  return {
    reported,
    retries,
    rows: rows as { record_key: Buffer | null; length: string | null; code: string; message: string }[],
  };
}

test("a letter past max_allowed_packet is stored reduced, without its bytes, and not retried", {
  timeout: 90_000,
}, async (t) => {
  if (maxPacket > 64 * 1024 * 1024)
    return t.skip(`max_allowed_packet is ${maxPacket}: too large a record to build here`);
  const value = Buffer.alloc(maxPacket + 1024 * 1024, 0x78);
  const { reported, retries, rows } = await setAside(10, value, 1024);
  assert.equal(retries, 0, "decided by size: never sent, never retried");
  assert.equal(rows.length, 1);
  assert.equal(rows[0]!.record_key, null);
  assert.equal(rows[0]!.length, null);
  assert.equal(rows[0]!.code, "DECODE_OVERSIZED");
  assert.match(rows[0]!.message, /too large for the dead-letter store/);
  assert.match(rows[0]!.message, new RegExp(`value ${value.length} bytes`));
  assert.deepEqual(
    reported.map((s) => [s.stored, s.refused?.code]),
    [["reduced", "DEAD_LETTER_TOO_LARGE"]],
  );
  assert.match(reported[0]!.refused!.message, /max_allowed_packet/);
  // The position moved past the record.
  assert.deepEqual(await target.readPositions(groupId), [{ topic: "lo.packet", partition: 0, offset: "11" }]);
});

test("a letter just under max_allowed_packet is stored whole", { timeout: 90_000 }, async (t) => {
  if (maxPacket > 64 * 1024 * 1024)
    return t.skip(`max_allowed_packet is ${maxPacket}: too large a record to build here`);
  const value = Buffer.alloc(maxPacket - 64 * 1024, 0x79);
  const { reported, retries, rows } = await setAside(20, value, 1024);
  assert.equal(retries, 0);
  assert.equal(rows.length, 1);
  assert.deepEqual(rows[0]!.record_key, Buffer.from("k1"));
  assert.equal(Number(rows[0]!.length), value.length);
  assert.deepEqual(
    reported.map((s) => s.stored),
    ["letter"],
  );
});
