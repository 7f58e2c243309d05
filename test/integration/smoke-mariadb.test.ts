/**
 * The pipeline smoke test (test/support/smoke-suite.ts) on MariaDB → Debezium → Kafka: full
 * before-images (binlog_row_image=FULL), and transaction BEGIN/END keyed by GTID.
 */
import assert from "node:assert/strict";
import { smokeSuite } from "../support/smoke-suite.ts";

smokeSuite({
  name: "mariadb",
  title: "MariaDB",
  create: (table) =>
    `CREATE TABLE ${table} (id int PRIMARY KEY, name varchar(40) NOT NULL, qty int) ENGINE=InnoDB`,
  async transaction(db, statements) {
    await db.query("START TRANSACTION");
    for (const sql of statements) await db.query(sql);
    await db.query("COMMIT");
    const { rows } = await db.query("SELECT @@last_gtid AS gtid");
    return String(rows[0]!.gtid);
  },
  // Debezium names a MariaDB transaction by its GTID, as @@last_gtid reports it.
  tx: (id) => id,
  checkBeforeImages(values) {
    // binlog_row_image=FULL: updates and deletes carry the whole previous row.
    assert.deepEqual(values[2]!.payload.before, { id: 1, name: "one", qty: 1 });
    assert.deepEqual(values[3]!.payload.before, { id: 2, name: "two", qty: 2 });
    assert.deepEqual(values[7]!.payload.before, { id: 1, name: "one", qty: 10 });
  },
});
