/**
 * The store-format marker (actors/store/format.ts): `Store.open` writes it on a KV that has none
 * (a new one, or one written before the marker existed), opens a KV of its own format, and refuses
 * a KV a newer engine wrote (format above `STORE_FORMAT`) with a message saying what to do, leaving
 * the file as it was. Two processes opening a new shared KV at once agree on one marker.
 * @module
 */

import assert from "node:assert/strict";
import {
  ensureStoreFormat,
  keys,
  Store,
  STORE_FORMAT,
  StoreFormatError,
} from "../../../actors/store/mod.ts";
import { ENGINE_VERSION } from "../../../actors/runtime/version.ts";
import { tempDir } from "../../helpers/temp.ts";

interface Marker {
  format: number;
  release: string;
  at: number;
}

/** The marker row as a plain KV handle reads it (value and versionstamp). */
async function readMarker(path: string): Promise<Deno.KvEntryMaybe<Marker>> {
  const kv = await Deno.openKv(path);
  try {
    return await kv.get<Marker>(keys.storeFormat);
  } finally {
    kv.close();
  }
}

Deno.test("a new KV file gets the store-format marker: format 1, this engine's release, the time", async () => {
  await using dir = await tempDir({ prefix: "store-format-new-" });
  const path = `${dir.path}/engine.kv`;
  const store = await Store.open({ path, node: "t", now: () => 1_700_000_000_000 });
  store.close();
  const marker = await readMarker(path);
  assert.equal(STORE_FORMAT, 1);
  assert.deepEqual(marker.value, { format: 1, release: ENGINE_VERSION, at: 1_700_000_000_000 });
});

Deno.test("a KV written before the marker existed opens, gets the marker, and keeps its rows", async () => {
  await using dir = await tempDir({ prefix: "store-format-old-" });
  const path = `${dir.path}/engine.kv`;
  const kv = await Deno.openKv(path);
  await kv.set(keys.message("m1"), { id: "m1" });
  await kv.set(keys.queueDepth("https:d1"), 3);
  await kv.set(keys.lastSeen, 123);
  kv.close();

  const store = await Store.open({ path, node: "t", release: "0.3.1", now: () => 42 });
  try {
    assert.deepEqual((await store.kv.get(keys.message("m1"))).value, { id: "m1" });
    assert.equal((await store.kv.get(keys.queueDepth("https:d1"))).value, 3);
  } finally {
    store.close();
  }
  assert.deepEqual((await readMarker(path)).value, { format: 1, release: "0.3.1", at: 42 });

  // Opened again, the marker is kept as it is (not rewritten by the next open).
  const before = await readMarker(path);
  const again = await Store.open({ path, node: "t", release: "0.3.2", now: () => 99 });
  again.close();
  const after = await readMarker(path);
  assert.deepEqual(after, before);
});

Deno.test("a KV a newer engine wrote (store format 2) is refused, saying both formats and releases and what to do, and is left as it was", async () => {
  await using dir = await tempDir({ prefix: "store-format-newer-" });
  const path = `${dir.path}/engine.kv`;
  const kv = await Deno.openKv(path);
  await kv.set(keys.storeFormat, { format: 2, release: "0.9.0", at: 1_700_000_000_000 });
  await kv.set(keys.message("m1"), { id: "m1", layout: "newer" });
  const markerBefore = await kv.get(keys.storeFormat);
  const rowBefore = await kv.get(keys.message("m1"));
  const countBefore = await count(kv);
  kv.close();

  const refused = await Store.open({ path, node: "t", release: "0.2.0" }).then(
    (s) => {
      s.close();
      return undefined;
    },
    (e: unknown) => e,
  );
  assert.ok(refused instanceof StoreFormatError, `refused with ${refused}`);
  assert.equal(
    refused.message,
    `the KV at ${path} was written by engine 0.9.0 (store format 2); this engine (0.2.0) reads ` +
      "store format ≤ 1; start that release or newer, or restore a backup taken before the upgrade",
  );
  assert.equal(refused.reads, 1);
  assert.doesNotMatch(refused.message, /\n/);

  const check = await Deno.openKv(path);
  try {
    assert.deepEqual(await check.get(keys.storeFormat), markerBefore);
    assert.deepEqual(await check.get(keys.message("m1")), rowBefore);
    assert.equal(await count(check), countBefore, "nothing written (no id floor, no probe)");
  } finally {
    check.close();
  }
});

Deno.test("a store-format marker this engine cannot read is refused, naming what was found", async () => {
  await using dir = await tempDir({ prefix: "store-format-odd-" });
  const path = `${dir.path}/engine.kv`;
  const kv = await Deno.openKv(path);
  await kv.set(keys.storeFormat, "v3");
  kv.close();
  await assert.rejects(
    Store.open({ path, node: "t" }),
    (e: unknown) =>
      e instanceof StoreFormatError && e.message.includes(`the KV at ${path}`) &&
      e.message.includes('("v3")') && e.message.includes("restore a backup"),
  );
  assert.equal((await readMarker(path)).value, "v3");
});

Deno.test("two stores opening the same new KV file at once both open and leave one marker", async () => {
  await using dir = await tempDir({ prefix: "store-format-race-" });
  const path = `${dir.path}/engine.kv`;
  const opened = await Promise.all([
    Store.open({ path, node: "a", release: "r-a", now: () => 1 }),
    Store.open({ path, node: "b", release: "r-b", now: () => 2 }),
  ]);
  for (const s of opened) s.close();
  const kv = await Deno.openKv(path);
  try {
    const markers = await Array.fromAsync(kv.list<Marker>({ prefix: ["store"] }));
    assert.equal(markers.length, 1);
    const m = markers[0]!.value;
    assert.ok(
      (m.release === "r-a" && m.at === 1) || (m.release === "r-b" && m.at === 2),
      JSON.stringify(m),
    );
    assert.equal(m.format, 1);
  } finally {
    kv.close();
  }
});

Deno.test("a newer engine writing its marker between this open's read and write wins: this open is refused, the newer marker stays", async () => {
  await using dir = await tempDir({ prefix: "store-format-lost-race-" });
  const path = `${dir.path}/engine.kv`;
  const kv = await Deno.openKv(path);
  const other = await Deno.openKv(path);
  const newer = { format: 2, release: "0.9.0", at: 5 };
  let first = true;
  // The first read of the marker finds none; the other process writes its own right after.
  const racing = new Proxy(kv, {
    get(target, property) {
      if (property === "get") {
        return async (key: Deno.KvKey) => {
          const got = await target.get(key);
          if (first) {
            first = false;
            await other.set(keys.storeFormat, newer);
          }
          return got;
        };
      }
      const value = Reflect.get(target, property);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  try {
    await assert.rejects(
      ensureStoreFormat(racing, { path, release: "0.2.0", now: () => 1 }),
      (e: unknown) =>
        e instanceof StoreFormatError && /engine 0\.9\.0 \(store format 2\)/.test(e.message),
    );
    assert.deepEqual((await other.get(keys.storeFormat)).value, newer);
  } finally {
    other.close();
  }
});

async function count(kv: Deno.Kv): Promise<number> {
  let n = 0;
  for await (const _ of kv.list({ prefix: [] })) n++;
  return n;
}
