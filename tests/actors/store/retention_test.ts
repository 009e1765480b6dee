/**
 * Retention on a real KV file: finished logs and messages past retention go with their payload
 * chunks, a message still PENDING stays whatever its age, dedupe records past their window and
 * expired jtis go; each commit is bounded; the storage report counts what is left.
 */

import assert from "node:assert/strict";
import { storageReport, sweepStore } from "../../../actors/store/retention.ts";
import { Store } from "../../../actors/store/store.ts";
import { tempDir } from "../../helpers/temp.ts";

const DAY = 86_400_000;

Deno.test("sweepStore: bounded batches remove what is past retention and keep what is pending", async () => {
  await using dir = await tempDir({ prefix: "retention-" });
  let now = Date.UTC(2026, 0, 1);
  const store = await Store.open({ path: `${dir.path}/kv`, node: "n1", now: () => now });
  try {
    const accept = (payload: Uint8Array, dedupe?: string) =>
      store.accept({
        queue: "sftp:lab",
        origin: { kind: "integration", id: "lab" },
        payload,
        contentType: "text/plain",
        log: { type: "RECEIVE", integrationId: "lab" },
        ...(dedupe ? { dedupe: { scope: "lab", key: dedupe, ack: "ACK", windowMs: DAY } } : {}),
      });
    const done: string[] = [];
    for (let i = 0; i < 25; i++) {
      const r = await accept(new TextEncoder().encode(`m${i}`), `c${i}`);
      assert.equal(r.status, "stored");
      if (r.status === "stored") done.push(r.logId);
    }
    const big = await accept(new Uint8Array(200_000).fill(65));
    const kept = await accept(new TextEncoder().encode("still queued"));
    assert.equal(big.status, "stored");
    assert.equal(kept.status, "stored");
    if (big.status === "stored") done.push(big.logId);
    for (const id of done) await store.updateLog(id, { status: "SUCCEEDED" });
    assert.ok(await store.auth.useJti("client", "jti-1", now + 60_000, () => now));

    const before = await storageReport(store);
    assert.equal(before.kinds.messages?.count, 27);
    assert.ok((before.kinds.payloadChunks?.count ?? 0) >= 1);
    assert.ok((before.kinds.payloadChunks?.approxBytes ?? 0) >= 190_000);

    // Within retention: nothing goes but nothing is due.
    now += 2 * DAY;
    let swept = await sweepStore(store, { now, retentionMs: 30 * DAY, dedupeWindowMs: DAY });
    assert.equal(swept.logs, 0);
    assert.equal(swept.dedupe, 25, "dedupe records past their 1-day window");
    assert.equal(swept.tokens, 1, "the expired jti");

    now += 30 * DAY;
    let between = 0;
    swept = await sweepStore(store, {
      now,
      retentionMs: 30 * DAY,
      dedupeWindowMs: DAY,
      between: () => (between++, Promise.resolve()),
    });
    assert.equal(swept.logs, 26);
    assert.equal(swept.messages, 26);
    assert.ok(swept.chunks >= 1);
    assert.ok(swept.commits >= 3 + 26, "logs in batches of at most 10, then one per message");
    assert.equal(between, swept.commits, "a pause after every commit");
    const after = await storageReport(store);
    assert.equal(after.kinds.messages?.count, 1, "the PENDING one stays");
    assert.equal(after.kinds.payloadChunks, undefined);
    assert.equal(after.kinds.logs?.count, 1);
    if (kept.status === "stored") assert.ok(await store.getMessage(kept.messageId));
  } finally {
    store.close();
  }
});

Deno.test("sweepStore keeps a message routed at intake while one of its SEND logs is PENDING, whatever its age, and its payload with it", async () => {
  await using dir = await tempDir({ prefix: "retention-" });
  let now = Date.UTC(2026, 0, 1);
  const store = await Store.open({ path: `${dir.path}/kv`, node: "n1", now: () => now });
  try {
    // As the MLLP intake stores a pass-through message: routed in the accept commit, its SEND
    // logs named by the record only (no log_by_msg rows); the RECEIVE log ends SUCCEEDED at once.
    const messageId = store.newId();
    const to = (queue: string) => ({
      queue,
      destinationId: queue,
      messageId,
      originalId: messageId,
      log: { integrationId: "lab" },
    });
    const r = await store.accept({
      queue: "mllp:lab",
      messageId,
      origin: { kind: "integration", id: "lab" },
      payload: new Uint8Array(200_000).fill(65), // chunked: its payload rows must stay too
      contentType: "application/hl7-v2",
      log: { type: "RECEIVE", integrationId: "lab" },
      deliveries: [to("mllp-out:up"), to("mllp-out:down")],
    });
    assert.equal(r.status, "stored");
    if (r.status !== "stored") return;
    const [up, down] = r.sendLogIds!;
    await store.updateLog(up!, { status: "SUCCEEDED" });

    // The destination "down" is down for longer than retention: its SEND log stays PENDING.
    now += 31 * DAY;
    let swept = await sweepStore(store, { now, retentionMs: 30 * DAY, dedupeWindowMs: DAY });
    assert.equal(swept.messages, 0, "a message still queued is not deleted");
    assert.equal(swept.chunks, 0);
    assert.equal(swept.logs, 2, "the RECEIVE log and the finished SEND log go");
    const kept = await store.getMessage(messageId);
    assert.ok(kept, "the message is still there for its destination");
    assert.equal((await store.getPayload(kept)).length, 200_000);

    // Delivered at last: the next sweep takes it.
    await store.updateLog(down!, { status: "SUCCEEDED" });
    swept = await sweepStore(store, { now, retentionMs: 30 * DAY, dedupeWindowMs: DAY });
    assert.equal(swept.messages, 1);
    assert.ok(swept.chunks >= 1);
    assert.equal(await store.getMessage(messageId), null);
  } finally {
    store.close();
  }
});
