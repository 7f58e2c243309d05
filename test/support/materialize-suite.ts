/**
 * The materializer on the real stack, source → Debezium → Kafka → shadowdb → target, the same
 * scenario on every engine: a table of every type goes through insert, update, delete,
 * primary-key change and truncate; afterwards the shadow table equals the source cell by cell, as
 * the engine renders it. Each engine's file (materialize-<engine>.test.ts) says which columns and
 * values its engine can carry, creates the tables and renders the rows.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, test } from "node:test";
import type { Engine } from "./engines.ts";
import { engines } from "./engines.ts";
import { services } from "./env.ts";
import { kafkaClient, waitForTopic } from "./kafka.ts";
import { eventually, startMaterializer } from "./materialize.ts";
import { uninstallOverlays } from "./overlay.ts";

export type Cells = (string | null)[][];

export interface EveryTypeSide {
  name: Engine["name"];
  table: string;
  /** The group id's tail, unique to this run. */
  suffix: string;
  /** The typed columns after id, each with the values the rows take (row i + 2 has values[i]). */
  columns: { name: string; values: string[] }[];
  /** Every column rows() renders, in its order (id first). */
  names: string[];
  /** Creates the table in production and in the shadow (the shadow runs the same migrations). */
  setUp(): Promise<void>;
  /** One statement on production. */
  prod(sql: string): Promise<void>;
  /** The table's rows as text, in key order. */
  rows(side: "prod" | "shadow"): Promise<Cells>;
  shadowRows(sql: string): Promise<Record<string, unknown>[]>;
  /** Closes the sessions; the shared part has dropped the overlays, tables and positions by then. */
  tearDown(): Promise<void>;
  /** Drops the table (and the engine's own objects for it) on both sides. */
  drop(): Promise<void>;
  /**
   * PostgreSQL: a text column that Debezium leaves out of an update that does not change it (a
   * TOASTed value). MariaDB has none: its binlog carries whole rows (binlog_row_image=FULL).
   */
  toasted?: string;
}

/** true, or where the two tables first differ (row id, column, both texts). */
function firstDifference(names: string[], expected: Cells, actual: Cells): true | string {
  const ids = (t: Cells) => t.map((r) => r[0]).join(",");
  if (ids(expected) !== ids(actual)) return `rows ${ids(actual)} instead of ${ids(expected)}`;
  for (const [i, row] of expected.entries()) {
    for (const [j, cell] of row.entries()) {
      if (actual[i]![j] !== cell)
        return `row ${row[0]} ${names[j]}: ${JSON.stringify(actual[i]![j])} instead of ${JSON.stringify(cell)}`;
    }
  }
  return true;
}

export function everyTypeSuite(side: EveryTypeSide): void {
  const groupId = `test-${side.suffix}`;
  const rowCount = side.columns.reduce((most, c) => Math.max(most, c.values.length), 0) + 1;
  const engine = async () => engines(await services()).find((e) => e.name === side.name)!;

  before(() => side.setUp());

  after(async () => {
    const e = await engine();
    await uninstallOverlays(e.dialect, e.shadowUrl, [{ schema: e.targetSchema, name: side.table }]);
    await side.drop();
    await side
      .shadowRows(`DELETE FROM shadowdb_positions WHERE group_id = '${groupId}'`)
      .catch(() => undefined);
    await side.tearDown();
  });

  test("every type, every operation: the shadow table equals the source", async () => {
    const e = await engine();
    const t = side.table;
    // A row that a truncate must remove from the shadow too.
    await side.prod(`INSERT INTO ${t} (id) VALUES (999)`);
    await side.prod(`TRUNCATE TABLE ${t}`);
    for (let i = 1; i <= rowCount; i++) {
      const present = side.columns.filter((c) => c.values[i - 2] !== undefined);
      const names = ["id", ...present.map((c) => c.name)].join(", ");
      const values = [String(i), ...present.map((c) => c.values[i - 2])].join(", ");
      await side.prod(`INSERT INTO ${t} (${names}) VALUES (${values})`);
    }
    const big = randomBytes(16_000).toString("hex");
    if (side.toasted) {
      await side.prod(`UPDATE ${t} SET ${side.toasted} = '${big}' WHERE id = 2`);
      // Only a small column changes: Debezium sends the toasted column as the unavailable placeholder.
    }
    await side.prod(`UPDATE ${t} SET c_text = 'updated' WHERE id = 2`);
    await side.prod(`UPDATE ${t} SET id = 103 WHERE id = 3`);
    await side.prod(`DELETE FROM ${t} WHERE id = 4`);

    const topic = e.topic(t);
    await waitForTopic(kafkaClient(e.brokers), topic);
    const running = await startMaterializer(`
kafka: { brokers: "${e.brokers}", groupId: "${groupId}" }
target: { dialect: ${e.dialect}, url: "${e.shadowUrl}" }
tables: [ { topic: "${topic}", table: "${e.targetSchema}.${t}" } ]
deadLetter: { table: "${e.targetSchema}.shadowdb_dead_letters" }
http: { port: 0 }
`);
    try {
      const expected = await side.rows("prod");
      await eventually(
        "shadow equals prod",
        async () => firstDifference(side.names, expected, await side.rows("shadow")),
        90_000,
        running,
      );
      if (side.toasted)
        assert.equal(expected.find((r) => r[0] === "2")?.at(-1), big, "the TOASTed column kept its value");
      assert.deepEqual(
        expected.map((r) => r[0]),
        ["1", "2", ...Array.from({ length: rowCount - 4 }, (_, i) => String(i + 5)), "103"],
      );
      assert.equal(running.materializer.stats.deadLetters, 0);
      const letters = await side.shadowRows(
        `SELECT count(*) AS n FROM shadowdb_dead_letters WHERE group_id = '${groupId}'`,
      );
      assert.equal(Number(letters[0]!.n), 0);
    } finally {
      await running.stop();
    }
    const positions = await side.shadowRows(
      `SELECT next_offset FROM shadowdb_positions WHERE group_id = '${groupId}' AND topic = '${topic}'`,
    );
    assert.equal(positions.length, 1, "the position was stored with the rows");
  });
}
