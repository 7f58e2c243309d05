/**
 * The overlay's behaviour that is the same on every engine: routing, writes without the overlay,
 * truncate, reset. Called once per engine (test/integration/overlay-<engine>.test.ts); what only
 * one engine has stays in overlay-<engine>-only.test.ts. Where the engines differ, the expectation
 * is parameterized by `bench.engine` with the reason next to it.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import {
  contents,
  notInstalled,
  type OverlayBench,
  type OverlayEngine,
  ownership,
  prodRows,
} from "./overlay-bench.ts";
import { overlayHiddenSuite } from "./overlay-suite-hidden.ts";
import { overlayRaceSuite } from "./overlay-suite-races.ts";

/** Both engines take these types; v is long enough for every value the tests write. */
export const baseColumns = "id int PRIMARY KEY, v varchar(40), n int";

export function overlaySuite(engine: OverlayEngine): void {
  let bench!: OverlayBench;
  before(async () => {
    bench = await engine.open();
  });
  after(() => bench.close());
  const get = () => bench;
  const rows = (table: { name: string }) => contents(bench, table, "id, v, n");

  for (const path of engine.paths) {
    test(`shadow writes own their keys; apply routes owned keys to the copy (${path})`, async () => {
      const names = await bench.overlaid(`route_${path.toLowerCase()}`, baseColumns);
      const t = names.table.name;
      const shadow = await bench.shadow();
      const setup = await bench.apply(
        names,
        { upserts: prodRows([1, "a", 1], [2, "b", 2], [3, "c", 3], [4, "d", 4], [5, "e", 5]) },
        { path },
      );
      assert.deepEqual(setup, { toCopy: 0, lostInserts: 0, hidden: 0 });

      await shadow.query(`INSERT INTO ${t} VALUES (10, 'shadow ten', 0)`);
      await shadow.query(`UPDATE ${t} SET v = 'shadow one' WHERE id = 1`);
      await shadow.query(`DELETE FROM ${t} WHERE id = 2`);
      await shadow.query(`UPDATE ${t} SET id = 30 WHERE id = 3`);
      // Later writes to an owned key change nothing in the overlay.
      await shadow.query(`UPDATE ${t} SET v = 'shadow one again' WHERE id = 1`);
      assert.deepEqual(await ownership(bench, names), ["1|u", "2|d", "3|u", "10|i", "30|u"]);
      assert.deepEqual(await rows(names.copy), ["1|a|1", "2|b|2", "3|c|3"]);

      const outcome = await bench.apply(
        names,
        {
          deletes: [{ id: 2 }, { id: 5 }, { id: 6 }],
          upserts: prodRows(
            [1, "prod one", 11],
            [3, "prod three", 33],
            [4, "prod four", 44],
            [7, "prod seven"],
            [10, "prod ten"],
          ),
        },
        { path },
      );
      // Owned: delete 2, upserts 1, 3, 10.
      assert.deepEqual(outcome, { toCopy: 4, lostInserts: 0, hidden: 0 });
      assert.deepEqual(await rows(names.table), [
        "1|shadow one again|1",
        "4|prod four|44",
        "7|prod seven|∅",
        "10|shadow ten|0",
        "30|c|3",
      ]);
      assert.deepEqual(await rows(names.copy), ["1|prod one|11", "3|prod three|33", "10|prod ten|∅"]);

      // TOAST: an update without its unchanged columns keeps the stored ones, in the copy as in the table.
      const toast = await bench.apply(
        names,
        {
          upserts: [
            { id: 1, n: 111 },
            { id: 4, n: 444 },
          ],
        },
        { path },
      );
      assert.deepEqual(toast, { toCopy: 1, lostInserts: 0, hidden: 0 });
      assert.deepEqual(await rows(names.copy), ["1|prod one|111", "3|prod three|33", "10|prod ten|∅"]);
      assert.ok((await rows(names.table)).includes("4|prod four|444"));

      // A key production deletes and creates again in one batch (delete + upsert of the same key).
      const again = await bench.apply(
        names,
        { deletes: [{ id: 1 }, { id: 4 }], upserts: prodRows([1, "new one"], [4, "new four"]) },
        { path },
      );
      assert.deepEqual(again, { toCopy: 2, lostInserts: 0, hidden: 0 });
      assert.ok((await rows(names.copy)).includes("1|new one|∅"));
      assert.ok((await rows(names.table)).includes("4|new four|∅"));
      assert.deepEqual(await ownership(bench, names), ["1|u", "2|d", "3|u", "10|i", "30|u"]);
    });
  }

  test("without the overlay a write goes to the table and reports nothing routed", async () => {
    const names = await bench.overlaid("plain", baseColumns);
    const shadow = await bench.shadow();
    await shadow.query(`INSERT INTO ${names.table.name} VALUES (1, 'shadow', 0)`);
    assert.deepEqual(await bench.apply(names, { upserts: prodRows([1, "prod"]) }, { overlay: false }), {
      toCopy: 0,
      lostInserts: 0,
      hidden: 0,
    });
    assert.deepEqual(await rows(names.table), ["1|prod|∅"]);
  });

  test("a write through an overlay that is not installed is refused, never sent to the table", async () => {
    const names = await bench.overlaid("none", "id int PRIMARY KEY, v varchar(20)", false);
    await bench.apply(names, { upserts: [{ id: 1, v: "p1" }] }, { overlay: false });
    await assert.rejects(bench.apply(names, { upserts: [{ id: 1, v: "P1" }] }), notInstalled);
    assert.deepEqual(await contents(bench, names.table), ["1|p1"]);
  });

  overlayRaceSuite(engine, get);

  describe("truncate", () => {
    test("production's truncate keeps the owned rows, removes the others and empties the copy", async () => {
      const names = await bench.overlaid("trunc", baseColumns);
      const t = names.table.name;
      const shadow = await bench.shadow();
      await bench.apply(names, { upserts: prodRows([1, "a"], [2, "b"], [3, "c"], [4, "d"]) });
      await shadow.query(`UPDATE ${t} SET v = 'shadow' WHERE id = 2`);
      await shadow.query(`INSERT INTO ${t} VALUES (9, 'shadow nine', 0)`);
      await shadow.query(`DELETE FROM ${t} WHERE id = 4`);
      assert.deepEqual(await rows(names.copy), ["2|b|∅", "4|d|∅"]);
      // After the truncate the batch inserts again: 1 (not owned) and 2 (owned: to the copy).
      const outcome = await bench.apply(names, {
        truncate: true,
        upserts: prodRows([1, "new one"], [2, "new two"]),
      });
      assert.deepEqual(outcome, { toCopy: 1, lostInserts: 0, hidden: 0 });
      assert.deepEqual(await rows(names.table), ["1|new one|∅", "2|shadow|∅", "9|shadow nine|0"]);
      assert.deepEqual(await rows(names.copy), ["2|new two|∅"]);
      assert.deepEqual(await ownership(bench, names), ["2|u", "4|d", "9|i"]);
    });

    test("a shadow UPDATE held open during production's truncate: the row stays the shadow's", async () => {
      const names = await bench.overlaid("trunc_race", baseColumns);
      await bench.apply(names, { upserts: prodRows([1, "a"], [2, "b"]) });
      const shadow = await bench.shadow();
      await shadow.query("BEGIN");
      await shadow.query(`UPDATE ${names.table.name} SET v = 'shadow' WHERE id = 2`);
      const pending = bench.apply(names, { truncate: true });
      await bench.blocked(shadow, pending, names.table);
      await shadow.query("COMMIT");
      assert.deepEqual(await pending, { toCopy: 0, lostInserts: 0, hidden: 0 });
      assert.deepEqual(await rows(names.table), ["2|shadow|∅"]);
      assert.deepEqual(await rows(names.copy), []);
      assert.deepEqual(await ownership(bench, names), ["2|u"]);
    });

    test("a shadow INSERT held open during the truncate: the owned row stays", async () => {
      const names = await bench.overlaid("trunc_ins", "id int PRIMARY KEY, v varchar(20)");
      const t = names.table.name;
      await bench.apply(names, {
        upserts: [1, 2, 3, 4].map((id) => ({ id, v: `p${id}` })),
      });
      const shadow = await bench.shadow();
      await shadow.query(`UPDATE ${t} SET v = 'shadow' WHERE id = 2`);
      await shadow.query(`DELETE FROM ${t} WHERE id = 3`);
      await shadow.query(`INSERT INTO ${t} VALUES (9, 'shadow')`);
      await shadow.query("BEGIN");
      await shadow.query(`INSERT INTO ${t} VALUES (8, 'shadow open')`);
      const applying = bench.apply(names, {
        truncate: true,
        upserts: [
          { id: 2, v: "P2 after" },
          { id: 5, v: "P5" },
        ],
      });
      // MariaDB's truncate (a DELETE of the rows nobody owns) takes next-key locks and waits for
      // the open insert; PostgreSQL's never sees the uncommitted row, so it need not wait for it.
      if (bench.engine === "mariadb") await bench.blocked(shadow, applying, names.table);
      await shadow.query("COMMIT");
      assert.deepEqual(await applying, { toCopy: 1, lostInserts: 0, hidden: 0 });
      assert.deepEqual(await contents(bench, names.table), ["2|shadow", "5|P5", "8|shadow open", "9|shadow"]);
      assert.deepEqual(await contents(bench, names.copy), ["2|P2 after"]);
      assert.deepEqual(await ownership(bench, names), ["2|u", "3|d", "8|i", "9|i"]);
    });
  });

  describe("reset", () => {
    test("one key, then all keys; apply keeps writing in between", async () => {
      const names = await bench.overlaid("reset", baseColumns);
      const t = names.table.name;
      const shadow = await bench.shadow();
      await bench.apply(names, { upserts: prodRows([1, "a", 1], [2, "b", 2], [3, "c", 3]) });
      await shadow.query(`UPDATE ${t} SET v = 'shadow' WHERE id = 1`);
      await shadow.query(`DELETE FROM ${t} WHERE id = 2`);
      await shadow.query(`INSERT INTO ${t} VALUES (5, 'shadow five', 0)`);
      await bench.apply(names, { upserts: prodRows([1, "prod one", 10], [2, "prod two", 20]) });

      assert.equal(await bench.admin.resetOverlay(names, [{ id: 1 }]), 1);
      assert.deepEqual(await rows(names.table), ["1|prod one|10", "3|c|3", "5|shadow five|0"]);
      assert.deepEqual(await ownership(bench, names), ["2|d", "5|i"]);
      assert.deepEqual(await rows(names.copy), ["2|prod two|20"]);
      // A key that is not owned resets nothing.
      assert.equal(await bench.admin.resetOverlay(names, [{ id: 3 }]), 0);

      // 1 is production's again: apply writes the table; 2 is still owned.
      const between = await bench.apply(names, {
        upserts: prodRows([1, "prod one b", 11], [2, "prod two b", 21]),
      });
      assert.deepEqual(between, { toCopy: 1, lostInserts: 0, hidden: 0 });
      assert.deepEqual(await rows(names.table), ["1|prod one b|11", "3|c|3", "5|shadow five|0"]);

      assert.equal(await bench.admin.resetOverlay(names), 2);
      assert.deepEqual(await rows(names.table), ["1|prod one b|11", "2|prod two b|21", "3|c|3"]);
      assert.deepEqual(await ownership(bench, names), []);
      assert.deepEqual(await rows(names.copy), []);
      assert.equal(await bench.admin.resetOverlay(names), 0);
      // The shadow can own the restored rows again.
      await shadow.query(`UPDATE ${t} SET v = 'shadow again' WHERE id = 2`);
      assert.deepEqual(await ownership(bench, names), ["2|u"]);
      assert.deepEqual(await rows(names.copy), ["2|prod two b|21"]);
    });

    test("reset waits for a shadow transaction writing the table, then resets what it wrote", async () => {
      const names = await bench.overlaid("reset_shadow", baseColumns);
      const t = names.table.name;
      const shadow = await bench.shadow();
      await bench.apply(names, { upserts: prodRows([1, "a", 1], [2, "b", 2]) });
      await shadow.query(`DELETE FROM ${t} WHERE id = 2`);
      // The shadow inserts the key it deleted again, and holds its transaction open.
      await shadow.query("BEGIN");
      await shadow.query(`INSERT INTO ${t} VALUES (2, 'shadow', 0)`);
      const resetting = bench.admin.resetOverlay(names, [{ id: 2 }]);
      // MariaDB's reset waits at its locking read of the ownership table (PostgreSQL goes by session).
      await bench.blocked(shadow, resetting, names.owned);
      await shadow.query("COMMIT");
      assert.equal(await resetting, 1);
      assert.deepEqual(await rows(names.table), ["1|a|1", "2|b|2"]);
      assert.deepEqual(await ownership(bench, names), []);
    });
  });

  overlayHiddenSuite(engine, get);
}
