/**
 * Finishing a queue's head (complete, dead-letter) under a lease check: refused by a check that
 * is stale for a moment, it is tried again with the lease as it is now; refused while the head
 * stays queued, it is a FencedError, never "the head is gone" (which would have the actor read
 * the head back and send it again).
 */

import assert from "node:assert/strict";
import { FencedError, keys, Store } from "../../../actors/store/mod.ts";

async function storeWithHead() {
  const store = new Store(await Deno.openKv(":memory:"), { node: "n1" });
  await store.accept({
    queue: "out",
    origin: { kind: "integration", id: "feed" },
    payload: new TextEncoder().encode("MSH|^~\\&|F1"),
    contentType: "application/hl7-v2",
    controlId: "F1",
    log: { type: "RECEIVE", integrationId: "feed" },
  });
  const lease = await store.kv.atomic().set(keys.lease("out"), { owner: "n1" }).commit();
  assert.ok(lease.ok);
  const [head] = await store.peek("out", 1);
  return { store, head: head!, token: lease.versionstamp };
}

const attempt = { at: 1, outcome: "SUCCEEDED" as const, reason: "AA", durationMs: 1 };

Deno.test("a completion refused by a lease check stale for a moment is tried again with the current one", async () => {
  const { store, head, token } = await storeWithHead();
  try {
    let asked = 0;
    // The first commit carries a token from before the lease was taken (a take under way).
    store.fenceWith(() => ({
      key: keys.lease("out"),
      versionstamp: ++asked === 1 ? "00000000000000000000" : token,
    }));
    assert.equal(await store.complete(head, attempt), true);
    assert.equal(asked, 2);
    assert.equal(await store.depth("out"), 0);
  } finally {
    store.close();
  }
});

Deno.test("a head whose finish the lease check keeps refusing is a FencedError and stays queued", async () => {
  const { store, head } = await storeWithHead();
  try {
    store.fenceWith(() => ({ key: keys.lease("out"), versionstamp: "00000000000000000000" }));
    await assert.rejects(store.complete(head, attempt), FencedError);
    await assert.rejects(store.deadLetter(head, "ops", "stuck"), FencedError);
    assert.equal(await store.depth("out"), 1);
    // Gone is still gone: once the head is finished elsewhere, false, not an error.
    store.fenceWith(() => undefined);
    assert.equal(await store.complete(head, attempt), true);
    store.fenceWith(() => ({ key: keys.lease("out"), versionstamp: "00000000000000000000" }));
    assert.equal(await store.complete(head, attempt), false);
  } finally {
    store.close();
  }
});
