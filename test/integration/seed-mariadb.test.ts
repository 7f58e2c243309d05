/**
 * The seed scenarios (test/support/seed-suite.ts) on MariaDB: LOAD DATA LOCAL from one consistent
 * snapshot, with values whose text is not their value (bytes, BIT, FLOAT, spatial, latin1), and
 * the refusal of a load the target column cannot hold.
 */
import assert from "node:assert/strict";
import { randomInt } from "node:crypto";
import { cli } from "../support/cli.ts";
import { seedSuite } from "../support/seed-suite.ts";

seedSuite({
  name: "mariadb",
  prefix: "sdm",
  columns: `id bigint PRIMARY KEY, amount decimal(30,10), f float, at datetime(6), ts timestamp(3) NULL,
  doc text, raw varbinary(16), flags bit(5), place point, label varchar(40) CHARACTER SET latin1,
  note text, secret text`,
  rowValues: (id, version) =>
    `(${id}, ${randomInt(1_000_000)}.${randomInt(10_000)}, ${randomInt(1000) / 7}e0,
    now(6) - INTERVAL ${randomInt(1000)} SECOND, now(3), '{"v": ${version}, "s": "a\\\\tb"}',
    UNHEX('00FF${(version % 256).toString(16).padStart(2, "0")}5C4E'), b'${(id % 32).toString(2)}',
    ST_GeomFromText('POINT(${id / 4} -${version})'), 'caf\u00e9 ${id}',
    ${id % 7 === 0 ? "NULL" : `'line\\n${version}\\ttab\\\\'`}, 'pw${id}')`,
  update: (table, id, writes) =>
    `UPDATE ${table} SET amount = amount + 1, f = f * 2, doc = CONCAT(doc, '\\t${writes}'),
             raw = UNHEX('${(writes % 256).toString(16).padStart(2, "0")}'), flags = b'11111',
             note = CONCAT(COALESCE(note, ''), 'u'), at = now(6) WHERE id = ${id}`,
  offsetText: "CAST(next_offset AS CHAR)",
  shapeSql: (table) =>
    `SELECT COLUMN_NAME AS name, CHARACTER_SET_NAME AS charset FROM information_schema.COLUMNS
        WHERE TABLE_SCHEMA = 'shadow' AND TABLE_NAME = '${table}' ORDER BY ORDINAL_POSITION`,
  shape: ["id", "amount", "f", "at", "ts", "doc", "raw", "flags", "place", "label", "remark"],
  checkShape(rows) {
    assert.equal(
      rows.find((r) => r.name === "label")?.charset,
      "latin1",
      "the column's character set is kept",
    );
  },
  // Bytes and spatial as hex, BIT and FLOAT as numbers: text that compares exactly.
  listing: (table, note) =>
    `SELECT id, CAST(amount AS CHAR) AS amount, f * 1 AS f, CAST(at AS CHAR) AS at, CAST(ts AS CHAR) AS ts,
     doc, HEX(raw) AS raw, flags + 0 AS flags, HEX(place) AS place, HEX(label) AS label, ${note} AS note
     FROM ${table} ORDER BY id`,
  emailColumns: "id int PRIMARY KEY, email varchar(40)",
  fifty: (table) => `INSERT INTO ${table} SELECT seq, CONCAT('user', seq, '@example.com') FROM seq_1_to_50`,
  async refusals({ shadow, table, config }) {
    // A value the target column cannot hold: LOAD DATA LOCAL would load the rest with a warning.
    await shadow.query(`DROP TABLE ${table}`);
    await shadow.query(`CREATE TABLE ${table} (id int PRIMARY KEY, email varchar(8))`);
    const narrow = await cli("seed", "--config", config("narrow"));
    assert.equal(narrow.code, 2);
    assert.match(
      narrow.stderr,
      /TARGET_DATA: shadow\.sdmr_\w+: LOAD DATA reported \d+ warnings \(1265: Data truncated/,
    );
  },
});
