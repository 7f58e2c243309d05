/**
 * Production rows hidden by a unique conflict with an overlay row, and reset bringing them back:
 * part of overlaySuite (overlay-suite.ts), the same on every engine except where an expectation
 * says why not.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { isShadowdbError } from "../../src/errors.ts";
import { contents, type OverlayBench, type OverlayEngine, ownership } from "./overlay-bench.ts";

export function overlayHiddenSuite(engine: OverlayEngine, get: () => OverlayBench): void {
  const uniqueColumns = "id int PRIMARY KEY, u varchar(20) UNIQUE, v varchar(20)";
  /** Rows as "id|u|v" lines in key order. */
  const uRows = (table: { name: string }) => contents(get(), table, "id, u, v");

  describe("hidden by a unique conflict with an overlay row", () => {
    for (const path of engine.paths) {
      test(`a production row that takes an overlay row's value is kept aside, and reset brings it back (${path})`, async () => {
        const bench = get();
        const names = await bench.overlaid(`hide_${path.toLowerCase()}`, uniqueColumns);
        const t = names.table.name;
        const shadow = await bench.shadow();
        const rows3 = [
          { id: 1, u: "a", v: "p1" },
          { id: 2, u: "b", v: "p2" },
          { id: 5, u: "e", v: "p5" },
        ];
        await bench.apply(names, { upserts: rows3 }, { path });
        await shadow.query(`UPDATE ${t} SET u = 'X' WHERE id = 1`);
        await shadow.query(`INSERT INTO ${t} VALUES (10, 'Y', 'shadow')`);

        // 3 is new and takes X (the shadow's row 1 holds it); 2 exists and takes Y (the shadow's
        // row 10 holds it), as a TOAST-style update without v; 6 collides with nothing.
        const outcome = await bench.apply(
          names,
          {
            upserts: [
              { id: 3, u: "X", v: "p3" },
              { id: 2, u: "Y" },
              { id: 6, u: "f", v: "p6" },
            ],
          },
          { path },
        );
        assert.deepEqual(outcome, { toCopy: 0, lostInserts: 0, hidden: 2 });
        assert.deepEqual(await uRows(names.table), ["1|X|p1", "5|e|p5", "6|f|p6", "10|Y|shadow"]);
        assert.deepEqual(await uRows(names.copy), ["1|a|p1", "2|Y|p2", "3|X|p3"]);
        assert.deepEqual(await ownership(bench, names), ["1|u", "2|c", "3|c", "10|i"]);

        const diff = await bench.admin.diffOverlay(names, []);
        assert.equal(diff.owned, 4);
        assert.deepEqual(
          diff.rows.map((r) => [r.kind, r.key.id, r.production ?? null]),
          [
            ["updated", "1", { id: "1", u: "a", v: "p1" }],
            ["hidden", "2", { id: "2", u: "Y", v: "p2" }],
            ["hidden", "3", { id: "3", u: "X", v: "p3" }],
            ["inserted", "10", null],
          ],
        );

        // A hidden key is owned: production's next change to it goes to the copy.
        assert.deepEqual(await bench.apply(names, { upserts: [{ id: 3, u: "X", v: "p3b" }] }, { path }), {
          toCopy: 1,
          lostInserts: 0,
          hidden: 0,
        });
        // A conflict with a row that is production's own is production's problem: it fails as it came.
        await assert.rejects(bench.apply(names, { upserts: [{ id: 7, u: "e", v: "p7" }] }, { path }), (e) =>
          bench.isDuplicate(e, `${names.table.name}_u_key`),
        );
        await assert.rejects(bench.apply(names, { upserts: [{ id: 6, u: "e" }] }, { path }), (e) =>
          bench.isDuplicate(e),
        );
        assert.deepEqual(await uRows(names.table), ["1|X|p1", "5|e|p5", "6|f|p6", "10|Y|shadow"]);

        // 3 alone cannot come back while the shadow's row 1 holds X: nothing is reset. PostgreSQL
        // reports it as TARGET_CONSTRAINT; MariaDB's reset passes the server's duplicate-key error on.
        await assert.rejects(bench.admin.resetOverlay(names, [{ id: 3 }]), (e) =>
          bench.engine === "postgres" ? isShadowdbError(e, "TARGET_CONSTRAINT") : bench.isDuplicate(e),
        );
        assert.deepEqual(await ownership(bench, names), ["1|u", "2|c", "3|c", "10|i"]);
        // Resetting all takes the shadow's rows out first: production is back entirely.
        assert.equal(await bench.admin.resetOverlay(names), 4);
        assert.deepEqual(await uRows(names.table), ["1|a|p1", "2|Y|p2", "3|X|p3b", "5|e|p5", "6|f|p6"]);
        assert.deepEqual(await ownership(bench, names), []);
        assert.deepEqual(await uRows(names.copy), []);
      });
    }

    test("resetting the blocking key and then the hidden one brings the hidden row back", async () => {
      const bench = get();
      const names = await bench.overlaid("hide_reset", uniqueColumns);
      const shadow = await bench.shadow();
      await bench.apply(names, { upserts: [{ id: 1, u: "a", v: "p1" }] });
      await shadow.query(`UPDATE ${names.table.name} SET u = 'X' WHERE id = 1`);
      await bench.apply(names, { upserts: [{ id: 2, u: "X", v: "p2" }] });
      assert.deepEqual(await ownership(bench, names), ["1|u", "2|c"]);
      assert.equal(await bench.admin.resetOverlay(names, [{ id: 1 }]), 1);
      // Still hidden (its own key is owned) until it is reset too; now nothing blocks it.
      assert.deepEqual(await uRows(names.table), ["1|a|p1"]);
      assert.equal(await bench.admin.resetOverlay(names, [{ id: 2 }]), 1);
      assert.deepEqual(await uRows(names.table), ["1|a|p1", "2|X|p2"]);
    });

    test("a shadow transaction taking the value held open: apply waits, then hides its row", async () => {
      const bench = get();
      const names = await bench.overlaid("hide_race", uniqueColumns);
      await bench.apply(names, { upserts: [{ id: 1, u: "a", v: "p1" }] });
      const shadow = await bench.shadow();
      await shadow.query("BEGIN");
      await shadow.query(`UPDATE ${names.table.name} SET u = 'Z' WHERE id = 1`);
      const pending = bench.apply(names, {
        upserts: [
          { id: 4, u: "Z", v: "p4" },
          { id: 5, u: "q", v: "p5" },
        ],
      });
      await bench.blocked(shadow, pending, names.table);
      await shadow.query("COMMIT");
      assert.deepEqual(await pending, { toCopy: 0, lostInserts: 0, hidden: 1 });
      assert.deepEqual(await uRows(names.table), ["1|Z|p1", "5|q|p5"]);
      assert.deepEqual(await uRows(names.copy), ["1|a|p1", "4|Z|p4"]);
      assert.deepEqual(await ownership(bench, names), ["1|u", "4|c"]);
    });

    test("a shadow UPDATE taking the value held open while apply inserts it; reset of both keys together", async () => {
      const bench = get();
      const names = await bench.overlaid("hide_race2", "id int PRIMARY KEY, email varchar(40) UNIQUE");
      await bench.apply(names, {
        upserts: [
          { id: 1, email: "a@x" },
          { id: 2, email: "b@x" },
        ],
      });
      const shadow = await bench.shadow();
      await shadow.query("BEGIN");
      await shadow.query(`UPDATE ${names.table.name} SET email = 'new@x' WHERE id = 2`);
      // Apply's insert waits for the shadow's uncommitted index entry, then meets it committed, owned.
      const applying = bench.apply(names, {
        upserts: [
          { id: 1, email: "a2@x" },
          { id: 3, email: "new@x" },
        ],
      });
      await bench.blocked(shadow, applying, names.table);
      await shadow.query("COMMIT");
      assert.deepEqual(await applying, { toCopy: 0, lostInserts: 0, hidden: 1 });
      assert.deepEqual(await contents(bench, names.table, "id, email"), ["1|a2@x", "2|new@x"]);
      assert.deepEqual(await contents(bench, names.copy, "id, email"), ["2|b@x", "3|new@x"]);
      assert.deepEqual(await ownership(bench, names), ["2|u", "3|c"]);
      // The blocking row goes first.
      assert.equal(await bench.admin.resetOverlay(names, [{ id: 3 }, { id: 2 }]), 2);
      assert.deepEqual(await contents(bench, names.table, "id, email"), ["1|a2@x", "2|b@x", "3|new@x"]);
    });

    test("a key production deletes and creates again in one write never updates the overlay row holding its value", async () => {
      const bench = get();
      const names = await bench.overlaid(
        "recreate",
        "id int PRIMARY KEY, email varchar(40) UNIQUE, v varchar(20)",
      );
      await bench.apply(names, {
        upserts: [
          { id: 1, email: "a@x", v: "p1" },
          { id: 2, email: "b@x", v: "p2" },
        ],
      });
      const shadow = await bench.shadow();
      await shadow.query(`UPDATE ${names.table.name} SET email = 'z@x', v = 'mine' WHERE id = 2`);
      // Production deletes 1 and creates it again with the value the shadow's row 2 now holds.
      const outcome = await bench.apply(names, {
        deletes: [{ id: 1 }],
        upserts: [{ id: 1, email: "z@x", v: "p1 again" }],
      });
      assert.deepEqual(outcome, { toCopy: 0, lostInserts: 0, hidden: 1 });
      assert.deepEqual(await contents(bench, names.table, "id, email, v"), ["2|z@x|mine"]);
      assert.deepEqual(await contents(bench, names.copy, "id, email, v"), ["1|z@x|p1 again", "2|b@x|p2"]);
      assert.deepEqual(await ownership(bench, names), ["1|c", "2|u"]);
    });
  });
}
