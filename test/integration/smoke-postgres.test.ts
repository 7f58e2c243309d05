/** The pipeline smoke test (test/support/smoke-suite.ts) on PostgreSQL → Debezium → Kafka. */
import assert from "node:assert/strict";
import { smokeSuite } from "../support/smoke-suite.ts";

smokeSuite({
  name: "postgres",
  title: "PostgreSQL",
  create: (table) => `CREATE TABLE ${table} (id int PRIMARY KEY, name text NOT NULL, qty int)`,
  async transaction(db, statements) {
    await db.query("BEGIN");
    const { rows } = await db.query("SELECT txid_current()::text AS xid");
    for (const sql of statements) await db.query(sql);
    await db.query("COMMIT");
    return String(rows[0]!.xid);
  },
  // Debezium names a transaction "<xid>:<lsn>": the xid before ':' groups its events.
  tx: (id) => /^(\d+):/.exec(id)?.[1],
  checkBeforeImages(values) {
    // Default replica identity: a delete's before-image carries the key only.
    assert.deepEqual(values[3]!.payload.before, { id: 2, name: "", qty: null });
  },
});
