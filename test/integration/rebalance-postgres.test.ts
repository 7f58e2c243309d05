/**
 * Scale-out: two instances in one consumer group share the topics; when one leaves, the other
 * takes its partitions over from the positions stored in the target. No change is lost or
 * applied twice: a watcher checks that no row's version ever goes backwards in the shadow.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, test } from "node:test";
import pg from "pg";
import { services } from "../support/env.ts";
import { kafkaClient, waitForTopic } from "../support/kafka.ts";
import { eventually, type Running, startMaterializer } from "../support/materialize.ts";
import { uninstallOverlays } from "../support/overlay.ts";

const suffix = randomBytes(4).toString("hex");
const tables = [`rb_a_${suffix}`, `rb_b_${suffix}`, `rb_c_${suffix}`];
const group = `test-rb-${suffix}`;
let prod: pg.Client;
let shadow: pg.Client;

before(async () => {
  const env = await services();
  prod = new pg.Client({ connectionString: env.SHADOWDB_PG_PROD_URL });
  shadow = new pg.Client({ connectionString: env.SHADOWDB_PG_SHADOW_URL });
  await prod.connect();
  await shadow.connect();
  for (const t of tables) {
    for (const c of [prod, shadow])
      await c.query(`CREATE TABLE ${t} (id int PRIMARY KEY, version bigint NOT NULL)`);
    await prod.query(`INSERT INTO ${t} SELECT g, 1 FROM generate_series(1, 50) g`);
  }
});

after(async () => {
  const env = await services();
  const names = tables.map((name) => ({ schema: "public", name }));
  await uninstallOverlays("postgres", env.SHADOWDB_PG_SHADOW_URL, names);
  for (const c of [prod, shadow]) {
    for (const t of tables) await c?.query(`DROP TABLE IF EXISTS ${t}`);
    await c?.query("DELETE FROM shadowdb_positions WHERE group_id = $1", [group]).catch(() => undefined);
    await c?.end();
  }
});

async function snapshot(client: pg.Client): Promise<string> {
  const parts: string[] = [];
  for (const t of tables) {
    const { rows } = await client.query(`SELECT id, version FROM ${t} ORDER BY id`);
    parts.push(rows.map((r) => `${r.id}:${r.version}`).join(","));
  }
  return parts.join(" | ");
}

async function bump(rounds: number): Promise<void> {
  for (let i = 0; i < rounds; i++) {
    for (const t of tables)
      await prod.query(`UPDATE ${t} SET version = version + 1 WHERE id % 3 = $1`, [i % 3]);
  }
}

test("two instances share the topics, and one takes over when the other leaves", async () => {
  const env = await services();
  const kafka = kafkaClient(env.SHADOWDB_KAFKA_BROKERS);
  const topics = tables.map((t) => `${env.SHADOWDB_PG_TOPIC_PREFIX}.public.${t}`);
  for (const topic of topics) await waitForTopic(kafka, topic);
  const config = `
kafka: { brokers: "${env.SHADOWDB_KAFKA_BROKERS}", groupId: "${group}" }
target: { dialect: postgres, url: "${env.SHADOWDB_PG_SHADOW_URL}" }
tables: [ ${tables.map((t, i) => `{ topic: "${topics[i]}", table: "public.${t}" }`).join(", ")} ]
deadLetter: { table: "public.shadowdb_dead_letters" }
http: { port: 0 }
`;
  const regressions: string[] = [];
  const highest = new Map<string, number>();
  let watching = true;
  const watcher = (async () => {
    while (watching) {
      for (const t of tables) {
        const { rows } = await shadow.query(`SELECT id, version FROM ${t}`);
        for (const r of rows) {
          const id = `${t}:${r.id}`;
          const v = Number(r.version);
          if (v < (highest.get(id) ?? 0)) regressions.push(`${id} went from ${highest.get(id)} to ${v}`);
          highest.set(id, Math.max(v, highest.get(id) ?? 0));
        }
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  })();

  const first: Running = await startMaterializer(config);
  const second: Running = await startMaterializer(config);
  let secondStopped = false;
  try {
    // Both members must hold partitions before the changes come, or one could do all the work.
    const owned = (r: Running) => Object.values(r.materializer.assignment).flat().length;
    await eventually(
      "the group splits the topics",
      async () =>
        owned(first) > 0 && owned(second) > 0 && owned(first) + owned(second) === topics.length
          ? true
          : `${owned(first)}+${owned(second)}`,
      60_000,
      first,
    );
    await bump(6);
    const expected = await snapshot(prod);
    await eventually(
      "both instances catch up",
      async () => ((await snapshot(shadow)) === expected ? true : "behind"),
      90_000,
      first,
    );
    second.assertAlive();
    assert.ok(first.materializer.stats.applied > 0, "the first instance applied its share");
    assert.ok(second.materializer.stats.applied > 0, "the second instance applied its share");

    await second.stop();
    secondStopped = true;
    await bump(6);
    const later = await snapshot(prod);
    await eventually(
      "the remaining instance takes over",
      async () => ((await snapshot(shadow)) === later ? true : "behind"),
      90_000,
      first,
    );
  } finally {
    if (!secondStopped) await second.stop();
    await first.stop();
    watching = false;
    await watcher;
  }
  assert.deepEqual(regressions, [], "no version ever went backwards");
  const { rows } = await shadow.query(
    "SELECT count(*)::int AS n FROM shadowdb_dead_letters WHERE group_id = $1",
    [group],
  );
  assert.equal(rows[0].n, 0);
});
