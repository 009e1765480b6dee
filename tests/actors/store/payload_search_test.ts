/**
 * The store's bounded search of received payloads: only RECEIVE logs are read, newest first; the
 * log bound stops the scan with a cursor that continues where it stopped; a payload that cannot be
 * read is skipped and counted, not an error.
 * @module
 */

import assert from "node:assert/strict";
import { keys, Store } from "../../../actors/store/mod.ts";
import { tempDir } from "../../helpers/temp.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

async function receive(store: Store, text: string): Promise<{ logId: string; messageId: string }> {
  const stored = await store.accept({
    queue: "mllp-in:feed",
    origin: { kind: "integration", id: "feed" },
    payload: enc.encode(text),
    contentType: "text/plain",
    log: { type: "RECEIVE", integrationId: "feed" },
    deliveries: [],
  });
  assert.equal(stored.status, "stored");
  if (stored.status !== "stored") throw new Error("not stored");
  return { logId: stored.logId, messageId: stored.messageId };
}

Deno.test("payload search: the log bound stops the scan and its cursor continues to older matches", async () => {
  await using dir = await tempDir({ prefix: "payload-search-" });
  const store = await Store.open({ path: `${dir.path}/engine.kv`, node: "t" });
  try {
    const old = await receive(store, "wanted 1");
    for (let i = 0; i < 4; i++) await receive(store, `other ${i}`);
    const recent = await receive(store, "wanted 2");
    const matches = (p: Uint8Array) => dec.decode(p).startsWith("wanted");
    const first = await store.searchPayloads({ filter: {}, matches, maxLogs: 3 });
    assert.deepEqual(first.logs.map((l) => l.id), [recent.logId]);
    assert.equal(first.cut, "logs");
    assert.equal(first.scanned, 3);
    const second = await store.searchPayloads({
      filter: { cursor: first.next },
      matches,
      maxLogs: 3,
    });
    assert.deepEqual(second.logs.map((l) => l.id), [old.logId]);
    assert.equal(second.cut, undefined);
    assert.equal(second.next, undefined);
  } finally {
    store.close();
  }
});

Deno.test("payload search: the page size gives a cursor past the last match; a gone message is skipped and counted", async () => {
  await using dir = await tempDir({ prefix: "payload-search-" });
  const store = await Store.open({ path: `${dir.path}/engine.kv`, node: "t" });
  try {
    const a = await receive(store, "wanted a");
    const gone = await receive(store, "wanted gone");
    const b = await receive(store, "wanted b");
    const c = await receive(store, "wanted c");
    await store.kv.delete(keys.message(gone.messageId));
    const matches = (p: Uint8Array) => dec.decode(p).startsWith("wanted");
    const page = await store.searchPayloads({ filter: { limit: 2 }, matches });
    assert.deepEqual(page.logs.map((l) => l.id), [c.logId, b.logId]);
    assert.equal(page.next, b.logId);
    const rest = await store.searchPayloads({ filter: { limit: 2, cursor: page.next }, matches });
    assert.deepEqual(rest.logs.map((l) => l.id), [a.logId]);
    assert.equal(rest.unreadable, 1);
  } finally {
    store.close();
  }
});
