/**
 * The overlay's races with a shadow transaction held open: part of overlaySuite (overlay-suite.ts),
 * the same on every engine except where an expectation says why not. The races are deterministic: the shadow holds its
 * transaction open, the apply write (or reset) is seen waiting for it, and only then it commits.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { contents, type OverlayBench, type OverlayEngine, ownership, prodRows } from "./overlay-bench.ts";

const baseColumns = "id int PRIMARY KEY, v varchar(40), n int";

export function overlayRaceSuite(engine: OverlayEngine, get: () => OverlayBench): void {
  const rows = (table: { name: string }) => contents(get(), table, "id, v, n");

  describe("races with a shadow transaction held open", () => {
    for (const path of engine.paths) {
      test(`shadow UPDATE: apply waits for the row lock, then sends the change to the copy (${path})`, async () => {
        const bench = get();
        const names = await bench.overlaid(`race_upd_${path.toLowerCase()}`, baseColumns);
        await bench.apply(names, { upserts: prodRows([1, "a", 1], [2, "b", 2]) }, { path });
        const shadow = await bench.shadow();
        await shadow.query("BEGIN");
        await shadow.query(`UPDATE ${names.table.name} SET v = 'shadow' WHERE id = 1`);
        const pending = bench.apply(
          names,
          { upserts: prodRows([1, "prod", 10], [2, "prod two", 20]) },
          { path },
        );
        await bench.blocked(shadow, pending, names.table);
        await shadow.query("COMMIT");
        assert.deepEqual(await pending, { toCopy: 1, lostInserts: 0, hidden: 0 });
        assert.deepEqual(await rows(names.table), ["1|shadow|1", "2|prod two|20"]);
        assert.deepEqual(await rows(names.copy), ["1|prod|10"]);
        assert.deepEqual(await ownership(bench, names), ["1|u"]);
      });

      test(`shadow INSERT of an absent key: apply's insert goes to the copy (${path})`, async () => {
        const bench = get();
        const names = await bench.overlaid(`race_ins_${path.toLowerCase()}`, baseColumns);
        const shadow = await bench.shadow();
        await shadow.query("BEGIN");
        await shadow.query(`INSERT INTO ${names.table.name} VALUES (1, 'shadow', 0)`);
        const pending = bench.apply(
          names,
          { upserts: prodRows([1, "prod", 1], [2, "prod two", 2]) },
          { path },
        );
        await bench.blocked(shadow, pending, names.table);
        await shadow.query("COMMIT");
        // PostgreSQL's insert meets the committed row and loses (ON CONFLICT, re-routed); MariaDB's
        // locking ownership read waits for the open insert and sees the key owned before inserting.
        const routed =
          bench.engine === "postgres" ? { toCopy: 0, lostInserts: 1 } : { toCopy: 1, lostInserts: 0 };
        assert.deepEqual(await pending, { ...routed, hidden: 0 });
        assert.deepEqual(await rows(names.table), ["1|shadow|0", "2|prod two|2"]);
        assert.deepEqual(await rows(names.copy), ["1|prod|1"]);
        assert.deepEqual(await ownership(bench, names), ["1|i"]);
      });
    }

    test("shadow DELETE: apply's upsert goes to the copy, apply's delete empties it", async () => {
      const bench = get();
      const names = await bench.overlaid("race_del", baseColumns);
      await bench.apply(names, { upserts: prodRows([1, "a", 1], [2, "b", 2]) });
      const shadow = await bench.shadow();
      await shadow.query("BEGIN");
      await shadow.query(`DELETE FROM ${names.table.name} WHERE id IN (1, 2)`);
      const pending = bench.apply(names, { upserts: prodRows([1, "prod", 10]), deletes: [{ id: 2 }] });
      await bench.blocked(shadow, pending, names.table);
      await shadow.query("COMMIT");
      assert.deepEqual(await pending, { toCopy: 2, lostInserts: 0, hidden: 0 });
      assert.deepEqual(await rows(names.table), []);
      assert.deepEqual(await rows(names.copy), ["1|prod|10"]);
      assert.deepEqual(await ownership(bench, names), ["1|d", "2|d"]);
    });

    test("shadow INSERT then DELETE of an absent key in one transaction: apply's row moves to the copy", async () => {
      // Apply's insert waits for the shadow's (dead but uncommitted) row, then succeeds: the key is
      // owned, its shadow state is "no row". Only the ownership read after the insert sees that.
      const bench = get();
      const names = await bench.overlaid("race_insdel", baseColumns);
      const t = names.table.name;
      const shadow = await bench.shadow();
      await shadow.query("BEGIN");
      await shadow.query(`INSERT INTO ${t} VALUES (1, 'shadow', 0)`);
      await shadow.query(`DELETE FROM ${t} WHERE id = 1`);
      const pending = bench.apply(names, { upserts: prodRows([1, "prod", 1], [2, "prod two", 2]) });
      await bench.blocked(shadow, pending, names.table);
      await shadow.query("COMMIT");
      // As for a held INSERT: PostgreSQL's insert then loses; MariaDB's locking ownership read waits
      // for the shadow's transaction and then routes the key to the copy before inserting.
      const routed =
        bench.engine === "postgres" ? { toCopy: 0, lostInserts: 1 } : { toCopy: 1, lostInserts: 0 };
      assert.deepEqual(await pending, { ...routed, hidden: 0 });
      assert.deepEqual(await rows(names.table), ["2|prod two|2"]);
      assert.deepEqual(await rows(names.copy), ["1|prod|1"]);
      assert.deepEqual(await ownership(bench, names), ["1|i"]);
    });

    test("a shadow transaction that rolls back owns nothing: apply writes the table", async () => {
      const bench = get();
      const names = await bench.overlaid("race_rollback", baseColumns);
      await bench.apply(names, { upserts: prodRows([1, "a", 1]) });
      const shadow = await bench.shadow();
      await shadow.query("BEGIN");
      await shadow.query(`UPDATE ${names.table.name} SET v = 'shadow' WHERE id = 1`);
      await shadow.query(`INSERT INTO ${names.table.name} VALUES (2, 'shadow', 0)`);
      const pending = bench.apply(names, { upserts: prodRows([1, "prod", 10], [2, "prod two", 20]) });
      await bench.blocked(shadow, pending, names.table);
      await shadow.query("ROLLBACK");
      assert.deepEqual(await pending, { toCopy: 0, lostInserts: 0, hidden: 0 });
      assert.deepEqual(await rows(names.table), ["1|prod|10", "2|prod two|20"]);
      assert.deepEqual(await rows(names.copy), []);
      assert.deepEqual(await ownership(bench, names), []);
    });

    // In the next three the held key is not the write's first: a statement that read ownership for
    // the first key before it waited for the held one would carry a snapshot from before the commit.
    const seeded = async (bench: OverlayBench, base: string, ids: number[]) => {
      const names = await bench.overlaid(base, "id int PRIMARY KEY, v varchar(20)");
      await bench.apply(names, { upserts: ids.map((id) => ({ id, v: `p${id}` })) });
      return names;
    };

    test("a shadow UPDATE of the write's second key held open: apply waits, then writes the copy", async () => {
      const bench = get();
      const names = await seeded(bench, "race_upd2", [1, 2, 3]);
      const shadow = await bench.shadow();
      await shadow.query("BEGIN");
      await shadow.query(`UPDATE ${names.table.name} SET v = 'shadow' WHERE id = 2`);
      const applying = bench.apply(names, {
        upserts: [1, 2, 3].map((id) => ({ id, v: `P${id} new` })),
      });
      await bench.blocked(shadow, applying, names.table);
      await shadow.query("COMMIT");
      assert.deepEqual(await applying, { toCopy: 1, lostInserts: 0, hidden: 0 });
      assert.deepEqual(await contents(bench, names.table), ["1|P1 new", "2|shadow", "3|P3 new"]);
      assert.deepEqual(await contents(bench, names.copy), ["2|P2 new"]);
    });

    test("a shadow DELETE held open while apply updates (or deletes) the key", async () => {
      const bench = get();
      const names = await seeded(bench, "race_del2", [1, 2, 3]);
      const shadow = await bench.shadow();
      await shadow.query("BEGIN");
      await shadow.query(`DELETE FROM ${names.table.name} WHERE id = 2`);
      await shadow.query(`UPDATE ${names.table.name} SET v = 'shadow' WHERE id = 3`);
      const applying = bench.apply(names, {
        upserts: [
          { id: 1, v: "P1 new" },
          { id: 2, v: "P2 new" },
        ],
        deletes: [{ id: 3 }],
      });
      await bench.blocked(shadow, applying, names.table);
      await shadow.query("COMMIT");
      assert.deepEqual(await applying, { toCopy: 2, lostInserts: 0, hidden: 0 });
      assert.deepEqual(
        await contents(bench, names.table),
        ["1|P1 new", "3|shadow"],
        "the shadow's delete and update stay",
      );
      assert.deepEqual(await contents(bench, names.copy), ["2|P2 new"], "production updated 2 and deleted 3");
    });

    test("a shadow INSERT held open before apply inserts the key: apply waits, then writes the copy", async () => {
      const bench = get();
      const names = await seeded(bench, "race_ins2", [1]);
      const shadow = await bench.shadow();
      await shadow.query("BEGIN");
      await shadow.query(`INSERT INTO ${names.table.name} VALUES (5, 'shadow')`);
      const applying = bench.apply(names, {
        upserts: [
          { id: 1, v: "P1 new" },
          { id: 5, v: "production" },
        ],
      });
      await bench.blocked(shadow, applying, names.table);
      await shadow.query("COMMIT");
      // As in "shadow INSERT of an absent key": PostgreSQL's insert loses, MariaDB's locking read waits.
      const routed =
        bench.engine === "postgres" ? { toCopy: 0, lostInserts: 1 } : { toCopy: 1, lostInserts: 0 };
      assert.deepEqual(await applying, { ...routed, hidden: 0 });
      assert.deepEqual(await contents(bench, names.table), ["1|P1 new", "5|shadow"]);
      assert.deepEqual(await contents(bench, names.copy), ["5|production"]);
    });
  });
}
