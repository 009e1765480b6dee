/**
 * Deno KV's expiry index, narrowed to the rows that expire when the store opens a local file: the
 * engine's rows (none of which expire) leave it empty, Deno's own expiry still finds and deletes
 * what expires, a file too large to narrow at start is left as it was and said so, and
 * `main.ts kv-index` narrows it then; a lock held elsewhere is waited for, then reported.
 */

import assert from "node:assert/strict";
import { memoryLogger } from "../../../actors/runtime/log.ts";
import {
  EXPIRY_INDEX,
  narrowExpiryIndex,
  reportExpiryIndex,
} from "../../../actors/store/expiry_index.ts";
import { Store } from "../../../actors/store/mod.ts";
import { runMain } from "../../helpers/run_main.ts";
import { tempDir } from "../../helpers/temp.ts";

/** The part of node:sqlite used here (Deno 2.9.6 ships no types for it). */
interface Sqlite {
  DatabaseSync: new (path: string) => {
    exec(sql: string): void;
    prepare(sql: string): {
      all(...params: unknown[]): Record<string, unknown>[];
      get(...params: unknown[]): Record<string, unknown> | undefined;
    };
    close(): void;
  };
}
const SQLITE = "node:sqlite";

/** Runs `read` on the SQLite file at `path`, opened apart from any KV handle. */
async function withSqlite<T>(
  path: string,
  read: (db: InstanceType<Sqlite["DatabaseSync"]>) => T,
): Promise<T> {
  const { DatabaseSync } = await import(SQLITE) as Sqlite;
  const db = new DatabaseSync(path);
  try {
    return read(db);
  } finally {
    db.close();
  }
}

/** The index's definition in the file. */
function indexSql(db: InstanceType<Sqlite["DatabaseSync"]>): string {
  return String(db.prepare("SELECT sql FROM sqlite_master WHERE name = ?").get(EXPIRY_INDEX)?.sql);
}

/** Stores `n` messages with dedupe keys (random places in the table), as MLLP intake does. */
async function acceptSome(store: Store, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    const id = `C${Math.floor(Math.random() * 1e9)}-${i}`;
    const stored = await store.accept({
      queue: "mllp-in:1:127.0.0.1",
      origin: { kind: "integration", id: "feed" },
      payload: new TextEncoder().encode(`MSH|^~\\&|A|B|C|D|20260101||ADT^A01|${id}|P|2.5`),
      contentType: "application/hl7-v2",
      controlId: id,
      dedupe: { scope: "feed", key: id, ack: "", windowMs: 86_400_000 },
      log: { type: "RECEIVE", integrationId: "feed" },
    });
    assert.equal(stored.status, "stored");
  }
}

Deno.test("a new store's KV file keeps no expiry index entry for rows that never expire", async () => {
  await using dir = await tempDir({ prefix: "expiry-index-new-" });
  const path = `${dir.path}/engine.kv`;
  const store = await Store.open({ path, node: "t" });
  try {
    assert.equal(store.expiryIndex?.status, "narrowed");
    await acceptSome(store, 300);
  } finally {
    store.close();
  }
  await withSqlite(path, (db) => {
    assert.match(indexSql(db), /WHERE expiration_ms >= 0$/);
    // 300 messages wrote ~1,500 rows: the index is its empty root page, not ~20 pages of keys.
    const pages = db.prepare(
      "SELECT count(*) AS pages, sum(ncell) AS cells FROM dbstat WHERE name = ?",
    ).get(EXPIRY_INDEX);
    assert.deepEqual({ pages: Number(pages?.pages), cells: Number(pages?.cells) }, {
      pages: 1,
      cells: 0,
    });
    // Deno KV's own two statements on expiry still go through the index.
    for (
      const q of [
        "delete from kv where expiration_ms >= 0 and expiration_ms <= 5",
        "select expiration_ms from kv where expiration_ms >= 0 order by expiration_ms limit 1",
      ]
    ) {
      const plan = db.prepare(`EXPLAIN QUERY PLAN ${q}`).all().map((r) => String(r.detail));
      assert.ok(plan.some((d) => d.includes(EXPIRY_INDEX)), `${q}: ${plan.join("; ")}`);
    }
  });
  // Opened again: narrow already, nothing done.
  const again = await Store.open({ path, node: "t" });
  again.close();
  assert.equal(again.expiryIndex?.status, "narrow");
});

Deno.test("a key set to expire is still deleted by Deno KV once the index is narrow", async () => {
  await using dir = await tempDir({ prefix: "expiry-index-sweep-" });
  const path = `${dir.path}/engine.kv`;
  const store = await Store.open({ path, node: "t" });
  try {
    assert.equal(store.expiryIndex?.status, "narrowed");
    await store.kv.set(["expiring"], 1, { expireIn: 1 });
    await store.kv.set(["kept"], 2);
  } finally {
    store.close();
  }
  await withSqlite(path, (db) => {
    const rows = db.prepare("SELECT count(*) AS n FROM kv WHERE expiration_ms >= 0").get();
    assert.equal(Number(rows?.n), 1);
  });
  // Deno KV deletes expired keys when it opens a file, then on its own schedule.
  const kv = await Deno.openKv(path);
  try {
    const deadline = performance.now() + 10_000;
    while ((await kv.get(["expiring"])).value !== null) {
      assert.ok(performance.now() < deadline, "the expired key is still there after 10 s");
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal((await kv.get(["kept"])).value, 2);
  } finally {
    kv.close();
  }
});

Deno.test("a KV file over the limit keeps its index, the engine says why, and kv-index narrows it", async () => {
  await using dir = await tempDir({ prefix: "expiry-index-big-" });
  const path = `${dir.path}/engine.kv`;
  const store = await Store.open({ path, node: "t", narrowIndexMaxBytes: 1 });
  try {
    await acceptSome(store, 20);
  } finally {
    store.close();
  }
  const outcome = store.expiryIndex;
  assert.equal(outcome?.status, "skipped");
  await withSqlite(path, (db) => assert.doesNotMatch(indexSql(db), /WHERE/i));
  const log = memoryLogger();
  reportExpiryIndex(outcome, log);
  assert.equal(log.lines.length, 1, log.lines.join("\n"));
  assert.match(log.lines[0]!, /WARN/);
  assert.match(log.lines[0]!, /kv\.expiry-index-kept/);
  assert.match(log.lines[0]!, /main\.ts kv-index CONFIG/);

  const config = `${dir.path}/engine.json`;
  await Deno.writeTextFile(config, JSON.stringify({ kv: { path } }));
  const run = await runMain(["kv-index", config]);
  assert.equal(run.code, 0, run.stderr);
  assert.match(
    run.stdout,
    /^kv-index: narrowed the expiry index of .*engine\.kv \(\d+\.\d MiB\) in \d+ ms\n$/,
  );
  await withSqlite(path, (db) => assert.match(indexSql(db), /WHERE expiration_ms >= 0$/));
  // The messages are all there, read back through KV.
  const kv = await Deno.openKv(path);
  try {
    let n = 0;
    for await (const _ of kv.list({ prefix: ["msg"] })) n++;
    assert.equal(n, 20);
  } finally {
    kv.close();
  }
  const again = await runMain(["kv-index", config]);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /is narrow already: nothing to do/);
});

Deno.test("kv-index refuses what is not a local KV file, naming it; exit 1", async () => {
  await using dir = await tempDir({ prefix: "expiry-index-refuse-" });
  const cases: [string, RegExp][] = [
    [":memory:", /kv-index: kv\.path is :memory:: this command changes a local KV file only/],
    [`${dir.path}/absent.kv`, /absent\.kv does not exist yet: the engine creates it/],
  ];
  for (const [kvPath, expected] of cases) {
    const config = `${dir.path}/c-${crypto.randomUUID().slice(0, 6)}.json`;
    await Deno.writeTextFile(config, JSON.stringify({ kv: { path: kvPath } }));
    const run = await runMain(["kv-index", config]);
    assert.equal(run.code, 1, run.stdout);
    assert.match(run.stderr, expected);
  }
  const usage = await runMain(["kv-index"]);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /kv-index: name the config file/);
});

Deno.test("narrowing waits for a write lock held elsewhere, then leaves the index and says why", async () => {
  await using dir = await tempDir({ prefix: "expiry-index-lock-" });
  const path = `${dir.path}/engine.kv`;
  // A KV file with the full index, as an older engine leaves it.
  const kv = await Deno.openKv(path);
  await kv.set(["msg", "m1"], { id: "m1" });
  kv.close();
  const { DatabaseSync } = await import(SQLITE) as Sqlite;
  const holder = new DatabaseSync(path);
  holder.exec("BEGIN IMMEDIATE");
  try {
    const start = performance.now();
    const outcome = await narrowExpiryIndex(path, { busyTimeoutMs: 200 });
    assert.equal(outcome.status, "failed");
    assert.match(outcome.status === "failed" ? outcome.error : "", /locked/i);
    assert.ok(performance.now() - start >= 150, "gave up without waiting for the lock");
    const log = memoryLogger();
    reportExpiryIndex(outcome, log);
    assert.match(log.lines.join("\n"), /WARN.*kv\.expiry-index-kept.*could not narrow/);
  } finally {
    holder.exec("ROLLBACK");
    holder.close();
  }
  await withSqlite(path, (db) => assert.doesNotMatch(indexSql(db), /WHERE/i));
  // Free again: narrowed.
  assert.equal((await narrowExpiryIndex(path)).status, "narrowed");
  await withSqlite(path, (db) => assert.match(indexSql(db), /WHERE expiration_ms >= 0$/));
});
