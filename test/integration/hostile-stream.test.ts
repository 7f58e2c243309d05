/**
 * Hostile input never stops or stalls the pipeline. Real Debezium records of a production table
 * are copied onto a topic of the test's own, interleaved with more than a thousand hostile records
 * generated from them (fast-check, fixed seed): NUL bytes, huge and absurd decimals, deep nesting,
 * multi-megabyte strings, bare objects, bad base64, a key that disagrees with its row, invalid
 * UTF-8, injection-shaped field names, truncated JSON. The real `shadowdb run` (a child process)
 * reads it: it never exits, /healthz answers within a second throughout, every hostile record is
 * a dead letter with its expected code and is counted, and every valid record is applied.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import pg from "pg";
import { services } from "../support/env.ts";
import { collect, kafkaClient, waitForTopic } from "../support/kafka.ts";
import { eventually } from "../support/materialize.ts";
import { freePort } from "../support/net.ts";
import { uninstallOverlays } from "../support/overlay.ts";

const root = fileURLToPath(new URL("../..", import.meta.url));
const suffix = randomBytes(4).toString("hex");
const table = `hostile_${suffix}`;
const topic = `hostile-${suffix}`;
const group = `test-hostile-${suffix}`;
const configFile = join(tmpdir(), `shadowdb-hostile-${suffix}.yaml`);
const VALID = 300;
const HOSTILE = 1_100;
/** Hostile records get ids of their own: one applied by mistake shows as a row production lacks. */
const HOSTILE_IDS = 1_000_000;

type Json = Record<string, unknown> & { schema: Json; payload: Json; fields: Json[] };
interface Template {
  key: Json;
  value: Json;
}
interface Hostile {
  kind: string;
  key: Buffer | null;
  value: Buffer;
}

let hugeStrings = 0;

/**
 * Each kind: how to make it from a valid record (with a fresh id), and the codes it may be set
 * aside with. Where two stages can each refuse it first, both codes are accepted; nothing else is.
 */
const kinds: Record<string, { codes: string[]; make: (t: Template, id: number, r: Rand) => Hostile }> = {
  "nul-in-text": {
    codes: ["TARGET_DATA"],
    make: (t, id) => encode("nul-in-text", withId(t, id), (after) => (after.name = `a\u0000b-${id}`)),
  },
  "nul-in-field-name": {
    codes: ["DECODE_BAD_SCHEMA"],
    make: (t, id) => renameField(withId(t, id), "name", "na\u0000me", "nul-in-field-name"),
  },
  "injection-field-name": {
    // A quoted name is a legal identifier, so it decodes; it is no column shadowdb adds, and the
    // row then lacks the table's key: the target refuses it (NOT NULL), nothing is stored.
    codes: ["TARGET_CONSTRAINT", "MAP_KEY_COLUMN_MISSING"],
    make: (t, id) =>
      renameField(withId(t, id), "id", `id"; DROP TABLE ${table}; --`, "injection-field-name", true),
  },
  "huge-decimal": {
    codes: ["DECODE_VALUE_TOO_LARGE"],
    make: (t, id, r) =>
      encode("huge-decimal", withId(t, id), (after) => {
        after.amount = randomBase64(r, 200_000);
      }),
  },
  "absurd-scale": {
    codes: ["DECODE_VALUE_TOO_LARGE"],
    make: (t, id) => {
      const copy = withId(t, id);
      const field = afterFields(copy.value).find((f) => f.field === "amount")!;
      (field.parameters as Record<string, string>).scale = "500000000";
      return encode("absurd-scale", copy, () => undefined);
    },
  },
  "deep-nesting": {
    codes: ["DECODE_TOO_DEEP"],
    make: (t, id) => {
      const text = JSON.stringify(withId(t, id).value);
      // An extra payload member nested far beyond any Connect schema's depth.
      const deep = `${"[".repeat(200_000)}${"]".repeat(200_000)}`;
      const value = `${text.slice(0, -1)},"x":${deep}}`;
      return {
        kind: "deep-nesting",
        key: Buffer.from(JSON.stringify(withId(t, id).key)),
        value: Buffer.from(value),
      };
    },
  },
  "huge-string-in-short-column": {
    codes: ["TARGET_DATA", "TARGET_VALUE_ALTERED"],
    make: (t, id) =>
      encode("huge-string-in-short-column", withId(t, id), (after) => {
        // A few of 5 MiB (each is stored again as a letter's raw bytes), the rest just too long.
        after.note = "n".repeat(hugeStrings++ < 4 ? 5 * 1024 * 1024 + 7 : 201);
      }),
  },
  "bare-object": {
    codes: ["DECODE_ENVELOPE_MISMATCH"],
    make: (t, id) => {
      const copy = withId(t, id);
      return {
        kind: "bare-object",
        key: Buffer.from(JSON.stringify(copy.key)),
        value: Buffer.from(JSON.stringify(copy.value.payload.after)),
      };
    },
  },
  "bad-base64": {
    codes: ["DECODE_BAD_VALUE"],
    make: (t, id) => encode("bad-base64", withId(t, id), (after) => (after.amount = "!!not*base64$$")),
  },
  "key-disagrees": {
    codes: ["DECODE_KEY_MISMATCH"],
    make: (t, id) =>
      encode("key-disagrees", withId(t, id), (after) => (after.id = (after.id as number) + HOSTILE_IDS)),
  },
  "invalid-utf8": {
    codes: ["DECODE_BAD_UTF8"],
    make: (t, id) => {
      const h = encode("invalid-utf8", withId(t, id), (after) => (after.name = `u-${id}-@@`));
      const at = h.value.indexOf(`u-${id}-@@`);
      h.value[at + `u-${id}-`.length] = 0xc3;
      h.value[at + `u-${id}-`.length + 1] = 0x28;
      return h;
    },
  },
  "truncated-json": {
    codes: ["DECODE_MALFORMED_JSON"],
    make: (t, id, r) => {
      const h = encode("truncated-json", withId(t, id), () => undefined);
      return { ...h, value: h.value.subarray(0, 1 + r.int(0, h.value.length - 2)) };
    },
  },
};

/** A small seeded generator (mulberry32), so a failing run can be repeated exactly. */
interface Rand {
  int(min: number, max: number): number;
}
function rand(seed: number): Rand {
  let a = seed >>> 0;
  return {
    int(min, max) {
      a = (a + 0x6d2b79f5) >>> 0;
      let t = a;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      const unit = ((t ^ (t >>> 14)) >>> 0) / 4294967296;
      return min + Math.floor(unit * (max - min + 1));
    },
  };
}

function clone<T>(value: T): T {
  return structuredClone(value);
}

function afterFields(value: Json): Json[] {
  return (value.schema.fields as Json[]).find((f) => f.field === "after")!.fields as Json[];
}

function withId(t: Template, id: number): Template {
  const copy = clone(t);
  (copy.key.payload as Json).id = id;
  (copy.value.payload.after as Json).id = id;
  return copy;
}

function encode(kind: string, t: Template, change: (after: Record<string, unknown>) => void): Hostile {
  change(t.value.payload.after as Record<string, unknown>);
  return { kind, key: Buffer.from(JSON.stringify(t.key)), value: Buffer.from(JSON.stringify(t.value)) };
}

function renameField(t: Template, from: string, to: string, kind: string, inKey = false): Hostile {
  const rename = (fields: Json[], row: Json) => {
    const field = fields.find((f) => f.field === from)!;
    field.field = to;
    row[to] = row[from];
    delete row[from];
  };
  rename(afterFields(t.value), t.value.payload.after as Json);
  if (inKey) rename(t.key.schema.fields as Json[], t.key.payload);
  return { kind, key: Buffer.from(JSON.stringify(t.key)), value: Buffer.from(JSON.stringify(t.value)) };
}

function randomBase64(r: Rand, bytes: number): string {
  const buffer = Buffer.alloc(bytes);
  for (let i = 0; i < bytes; i++) buffer[i] = r.int(0, 255);
  return buffer.toString("base64");
}

let prod: pg.Client;
let shadow: pg.Client;
let child: ChildProcess | undefined;

before(async () => {
  const env = await services();
  prod = new pg.Client({ connectionString: env.SHADOWDB_PG_PROD_URL });
  shadow = new pg.Client({ connectionString: env.SHADOWDB_PG_SHADOW_URL });
  await prod.connect();
  await shadow.connect();
  const ddl = `CREATE TABLE ${table} (id int PRIMARY KEY, name text, amount numeric(30,6), note varchar(200))`;
  await prod.query(ddl);
  await shadow.query(ddl);
});

after(async () => {
  child?.kill("SIGKILL");
  const env = await services();
  await uninstallOverlays("postgres", env.SHADOWDB_PG_SHADOW_URL, [{ schema: "public", name: table }]);
  for (const c of [prod, shadow]) {
    await c?.query(`DROP TABLE IF EXISTS ${table}`).catch(() => undefined);
    await c?.query("DELETE FROM shadowdb_positions WHERE group_id = $1", [group]).catch(() => undefined);
    await c?.query("DELETE FROM shadowdb_dead_letters WHERE group_id = $1", [group]).catch(() => undefined);
    await c?.end();
  }
  const admin = kafkaClient(env.SHADOWDB_KAFKA_BROKERS).admin();
  await admin.connect();
  await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
  await admin.deleteGroups([group]).catch(() => undefined);
  await admin.disconnect();
  rmSync(configFile, { force: true });
});

test("a thousand hostile records among valid ones: never exits, never stalls, each set aside with its code", {
  timeout: 300_000,
}, async () => {
  const env = await services();
  const kafka = kafkaClient(env.SHADOWDB_KAFKA_BROKERS);
  const source = `${env.SHADOWDB_PG_TOPIC_PREFIX}.public.${table}`;
  await prod.query(
    `INSERT INTO ${table} SELECT i, 'name ' || i, i * 1.5, 'note ' || i FROM generate_series(1, ${VALID}) i`,
  );
  await waitForTopic(kafka, source);
  const valid = await collect(kafka, [source], (m) => m.length >= VALID, 120_000);
  const templates: Template[] = valid.map((m) => ({
    key: JSON.parse(m.key!.toString()) as Json,
    value: JSON.parse(m.value!.toString()) as Json,
  }));

  const names = Object.keys(kinds);
  const hostile = fc.sample(
    fc.tuple(fc.constantFrom(...names), fc.nat(VALID - 1), fc.integer({ min: 0, max: 2 ** 30 })),
    { numRuns: HOSTILE, seed: 18_003 },
  );
  const out: { key: Buffer | null; value: Buffer; kind?: string }[] = valid.map((m) => ({
    key: m.key,
    value: m.value!,
  }));
  // Interleave: each hostile record goes at a random place among the valid ones.
  const random = rand(18_003);
  hostile.forEach(([kind, template, seed], i) => {
    const made = kinds[kind]!.make(templates[template]!, HOSTILE_IDS + i, rand(seed));
    const at = random.int(0, out.length);
    out.splice(at, 0, { key: made.key, value: made.value, kind });
  });

  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({
    topics: [{ topic, numPartitions: 1, configEntries: [{ name: "max.message.bytes", value: "16777216" }] }],
    waitForLeaders: true,
  });
  await admin.disconnect();
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  const expected = new Map<string, { kind: string; codes: string[] }>();
  let offset = 0;
  for (let i = 0; i < out.length; i += 50) {
    const slice = out.slice(i, i + 50);
    await producer.send({ topic, messages: slice.map((m) => ({ key: m.key, value: m.value })) });
    for (const m of slice) {
      if (m.kind) expected.set(String(offset), { kind: m.kind, codes: kinds[m.kind]!.codes });
      offset++;
    }
  }
  await producer.disconnect();

  const port = await freePort();
  writeFileSync(
    configFile,
    `kafka: { brokers: "${env.SHADOWDB_KAFKA_BROKERS}", groupId: "${group}", fromBeginning: true }
target: { dialect: postgres, url: "${env.SHADOWDB_PG_SHADOW_URL}" }
tables: [ { topic: "${topic}", table: "public.${table}" } ]
deadLetter: { table: "public.shadowdb_dead_letters" }
http: { port: ${port}, adminToken: "${randomBytes(16).toString("hex")}" }
log: { level: warn }
`,
  );
  const log: string[] = [];
  child = spawn(process.execPath, ["--import", "tsx", "src/cli/main.ts", "run", "--config", configFile], {
    cwd: root,
    stdio: ["ignore", "pipe", "pipe"],
  });
  for (const stream of [child.stdout, child.stderr]) {
    stream?.setEncoding("utf8");
    stream?.on("data", (chunk: string) => {
      log.push(chunk.slice(0, 2000));
      if (log.length > 200) log.shift();
    });
  }
  let exited: number | null | undefined;
  child.on("exit", (code) => {
    exited = code;
  });

  // /healthz every 250 ms, each answer allowed one second.
  let slowest = 0;
  const misses: string[] = [];
  let probing = true;
  const prober = (async () => {
    for (await sleep(3000); probing; await sleep(250)) {
      const started = performance.now();
      try {
        const reply = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(1000) });
        await reply.arrayBuffer();
        if (reply.status !== 200) misses.push(`HTTP ${reply.status}`);
      } catch (error) {
        misses.push(String(error));
      }
      slowest = Math.max(slowest, performance.now() - started);
    }
  })();

  try {
    await eventually(
      "every record applied or set aside",
      async () => {
        assert.equal(exited, undefined, `shadowdb exited (${exited}):\n${log.join("")}`);
        const { rows } = await shadow
          .query(
            "SELECT coalesce(sum(next_offset), 0)::int AS n FROM shadowdb_positions WHERE group_id = $1",
            [group],
          )
          .catch(() => ({ rows: [{ n: 0 }] }));
        return rows[0].n === out.length || `position ${rows[0].n} of ${out.length}`;
      },
      240_000,
    ).catch((error: unknown) => {
      throw new Error(`${(error as Error).message}\nshadowdb's log:\n${log.join("").slice(-6000)}`);
    });
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    const counted = metrics
      .split("\n")
      .filter((l) => l.startsWith("shadowdb_dead_letters_total"))
      .reduce((sum, l) => sum + Number(l.split(" ").at(-1)), 0);
    assert.equal(counted, HOSTILE, "every dead letter counted in /metrics");
  } finally {
    probing = false;
    await prober;
  }
  assert.equal(exited, undefined, "shadowdb never exited");
  assert.deepEqual(misses.slice(0, 5), [], `/healthz missed ${misses.length} time(s)`);
  assert.ok(slowest < 1000, `/healthz slowest answer ${slowest.toFixed(0)} ms`);
  console.log(
    `hostile stream: ${out.length} records (${HOSTILE} hostile), /healthz slowest ${slowest.toFixed(0)} ms`,
  );

  const { rows: letters } = await shadow.query(
    "SELECT kafka_offset::text AS offset, code FROM shadowdb_dead_letters WHERE group_id = $1 ORDER BY kafka_offset",
    [group],
  );
  assert.equal(letters.length, HOSTILE, "one dead letter per hostile record");
  const wrong: string[] = [];
  for (const letter of letters) {
    const want = expected.get(letter.offset);
    if (!want) wrong.push(`offset ${letter.offset}: a valid record set aside (${letter.code})`);
    else if (!want.codes.includes(letter.code))
      wrong.push(`offset ${letter.offset} (${want.kind}): ${letter.code}, expected ${want.codes.join("|")}`);
  }
  assert.deepEqual(wrong.slice(0, 10), [], `${wrong.length} letter(s) with the wrong code`);

  const select = `SELECT id, name, amount::text AS amount, note FROM ${table} ORDER BY id`;
  const [want, have] = await Promise.all([prod.query(select), shadow.query(select)]);
  assert.deepEqual(have.rows, want.rows, "the shadow holds exactly production's rows");
});

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
