import assert from "node:assert/strict";
import { keys, Store } from "../../../actors/store/mod.ts";
import type { AcceptResult } from "../../../actors/store/mod.ts";
import { clockedStore } from "./fixtures/clocked_store.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
const QUEUE = "mllp-in:1:127.0.0.1";
const DAY = 86_400_000;

/** Accepts `text` under dedupe key `key`; a repeat is the same message when the texts are equal. */
function accept(store: Store, key: string, text: string): Promise<AcceptResult> {
  const payload = enc.encode(text);
  return store.accept({
    queue: QUEUE,
    origin: { kind: "integration", id: "feed" },
    payload,
    contentType: "application/hl7-v2",
    controlId: key,
    dedupe: {
      scope: "feed",
      key,
      ack: "",
      windowMs: DAY,
      sameMessage: (earlier) => dec.decode(earlier) === text,
    },
    log: { type: "RECEIVE", integrationId: "feed" },
  });
}

/** The payloads of the queue's messages, in queue order. */
async function queued(store: Store): Promise<string[]> {
  const heads = await store.peek(QUEUE, 100);
  const records = await store.getMessages(heads.map((h) => h.entry.messageId));
  return await Promise.all(records.map(async (r) => dec.decode(await store.getPayload(r!))));
}

function stored(result: AcceptResult): Extract<AcceptResult, { status: "stored" }> {
  assert.equal(result.status, "stored");
  return result as Extract<AcceptResult, { status: "stored" }>;
}

for (const [label, size] of [["small", 300], ["large (chunked)", 120_000]] as const) {
  Deno.test(`dedupe with sameMessage, ${label}: another message under a key seen within the window is stored and names the earlier; the key then names it`, async () => {
    const { clock, store } = await clockedStore();
    try {
      const a = "A".repeat(size), b = "B".repeat(size);
      const first = stored(await accept(store, "K1", a));
      assert.equal(first.reused, undefined, "a key seen for the first time reuses nothing");
      clock.advance(1000);
      const again = await accept(store, "K1", a);
      assert.equal(again.status, "duplicate", "the same message sent again");
      assert.equal(again.messageId, first.messageId);
      const other = stored(await accept(store, "K1", b));
      assert.equal(other.reused, first.messageId);
      assert.notEqual(other.messageId, first.messageId);
      // The key names the newer message now: its resend is its duplicate; the first's is new.
      const bAgain = await accept(store, "K1", b);
      assert.equal(bAgain.status, "duplicate");
      assert.equal(bAgain.messageId, other.messageId);
      assert.equal(stored(await accept(store, "K1", a)).reused, other.messageId);
      assert.deepEqual(await queued(store), [a, b, a]);
    } finally {
      store.close();
    }
  });
}

Deno.test("dedupe with sameMessage: two messages under one key at once are both stored, a copy of either is its duplicate", async () => {
  const { store } = await clockedStore();
  try {
    const results = await Promise.all([
      accept(store, "K2", "first"),
      accept(store, "K2", "first"),
      accept(store, "K2", "second"),
      accept(store, "K2", "second"),
    ]);
    assert.deepEqual(results.map((r) => r.status), ["stored", "duplicate", "stored", "duplicate"]);
    assert.equal(results[1]!.messageId, results[0]!.messageId);
    assert.equal(stored(results[2]!).reused, results[0]!.messageId);
    assert.equal(results[3]!.messageId, results[2]!.messageId);
    assert.deepEqual(await queued(store), ["first", "second"]);
  } finally {
    store.close();
  }
});

Deno.test("dedupe with sameMessage: when the earlier message is no longer stored, a repeat is stored rather than taken for it", async () => {
  const { store } = await clockedStore();
  try {
    const first = stored(await accept(store, "K3", "gone"));
    await store.kv.delete(keys.message(first.messageId));
    const again = stored(await accept(store, "K3", "gone"));
    assert.equal(again.reused, first.messageId);
    assert.equal(await store.depth(QUEUE), 2);
  } finally {
    store.close();
  }
});

Deno.test("dedupe without sameMessage: any repeat of a key within the window is a duplicate, whatever it holds", async () => {
  const { store } = await clockedStore();
  try {
    const request = (text: string) => ({
      queue: QUEUE,
      origin: { kind: "integration" as const, id: "feed" },
      payload: enc.encode(text),
      contentType: "application/hl7-v2",
      dedupe: { scope: "feed", key: "K4", ack: "", windowMs: DAY },
      log: { type: "RECEIVE" as const, integrationId: "feed" },
    });
    const first = stored(await store.accept(request("one")));
    const other = await store.accept(request("two"));
    assert.equal(other.status, "duplicate");
    assert.equal(other.messageId, first.messageId);
  } finally {
    store.close();
  }
});
