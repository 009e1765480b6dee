/**
 * An operator's look at a queue whose head cannot be read (another version's entry, or a damaged
 * one) — an actor listing, the head a skip moves aside — on a real KV file: the look sets nothing
 * aside and shows the entry as unreadable, and dead-lettering what it showed moves that entry
 * aside, not the message behind it. The actor's own read still sets it aside (unreadable_entry).
 */

import assert from "node:assert/strict";
import { keys, Store } from "../../../actors/store/mod.ts";
import { memoryLogger } from "../../../actors/runtime/log.ts";
import { tempDir } from "../../helpers/temp.ts";

const QUEUE = "mllp-out:127.0.0.1:9";
const BAD = "0000000000001";

/** A store on a KV file whose `QUEUE` holds an unreadable entry, then one real message. */
async function queueWithBadHead(path: string) {
  const kv = await Deno.openKv(path);
  await kv.atomic()
    .set(keys.queueEntry(QUEUE, BAD), { v: 2, payload: "from a later version" })
    .sum(keys.queueDepth(QUEUE), 1n)
    .commit();
  kv.close();
  const store = await Store.open({ path, node: "t" });
  const log = memoryLogger();
  store.log = log;
  const stored = await store.accept({
    queue: QUEUE,
    origin: { kind: "integration", id: "feed" },
    payload: new TextEncoder().encode("MSH|^~\\&|real"),
    contentType: "application/hl7-v2",
    log: { type: "RECEIVE", integrationId: "feed" },
  });
  assert.equal(stored.status, "stored");
  return { store, log, messageId: stored.messageId };
}

Deno.test("a look at a queue whose head is unreadable leaves it queued, flagged with why; dead-lettering that look sets aside that entry and not the message behind it", async () => {
  await using dir = await tempDir({ prefix: "unreadable-look-" });
  const { store, log, messageId } = await queueWithBadHead(`${dir.path}/engine.kv`);
  try {
    // Looked at twice (a listing, then the skip's own look): nothing moves.
    const listed = await store.look(QUEUE);
    const look = await store.look(QUEUE);
    assert.equal(listed?.versionstamp, look?.versionstamp);
    assert.deepEqual(listed?.unreadable, look?.unreadable);
    assert.equal(look?.entry.seq, BAD);
    assert.equal(look?.unreadable?.reason, "no seq");
    assert.equal(await store.depth(QUEUE), 2);
    assert.deepEqual(await store.deadLetters(QUEUE), []);

    assert.equal(await store.deadLetter(look!, "ops", "stuck at the head"), true);
    const dead = await store.deadLetters(QUEUE) as unknown as Record<string, string>[];
    assert.equal(dead.length, 1, JSON.stringify(dead));
    assert.equal(dead[0]!.seq, BAD);
    assert.equal(dead[0]!.by, "ops");
    assert.equal(dead[0]!.reason, "unreadable queue entry: no seq (skipped: stuck at the head)");
    assert.match(dead[0]!.unreadable!, /from a later version/);
    const errors = log.lines.filter((l) => / ERROR /.test(l));
    assert.equal(errors.length, 1, errors.join("\n"));
    assert.match(errors[0]!, /queue\.unreadable-entry .*0000000000001.*reason="no seq".*by=ops/);

    // The real message is the head now, untouched.
    const after = await store.look(QUEUE);
    assert.equal(after?.unreadable, undefined);
    assert.equal(after?.entry.messageId, messageId);
    assert.equal(await store.depth(QUEUE), 1);
    // Dead-lettering a look that went stale meanwhile moves nothing.
    assert.equal(await store.deadLetter(look!, "ops", "again"), false);
    assert.equal((await store.deadLetters(QUEUE)).length, 1);
  } finally {
    store.close();
  }
});

Deno.test("the actor's read of a queue whose head is unreadable still sets it aside and reads the message behind it", async () => {
  await using dir = await tempDir({ prefix: "unreadable-look-" });
  const { store, messageId } = await queueWithBadHead(`${dir.path}/engine.kv`);
  try {
    const [head] = await store.peek(QUEUE);
    assert.equal(head?.entry.messageId, messageId);
    const dead = await store.deadLetters(QUEUE);
    assert.deepEqual(dead.map((d) => [d.seq, d.by]), [[BAD, "engine"]]);
    assert.equal(await store.depth(QUEUE), 1);
    assert.equal((await store.look(QUEUE))?.entry.messageId, messageId);
  } finally {
    store.close();
  }
});
