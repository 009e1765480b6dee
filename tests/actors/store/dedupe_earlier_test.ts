import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { ManualClock } from "../../../actors/runtime/clock.ts";
import { keys, Store } from "../../../actors/store/mod.ts";
import type { AcceptResult } from "../../../actors/store/mod.ts";
import { tempDir } from "../../helpers/temp.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
const QUEUE = "mllp-in:1:127.0.0.1";
const DAY = 86_400_000;

/** A store on a KV file in a temp folder, with a manual clock; disposing closes and removes it. */
async function fileStore() {
  const dir = await tempDir({ prefix: "dedupe-earlier-" });
  const clock = new ManualClock();
  const kv = await Deno.openKv(`${dir.path}/engine.kv`);
  const store = new Store(kv, { node: "t", now: () => clock.now() });
  return {
    clock,
    store,
    async [Symbol.asyncDispose]() {
      store.close();
      await dir[Symbol.asyncDispose]();
    },
  };
}

/** Digests of texts (a stand-in for the HL7 comparable form: the text itself), counted. */
const digested: string[] = [];
function digest(payload: Uint8Array): string {
  digested.push(dec.decode(payload));
  return createHash("sha256").update(payload).digest("base64");
}

/**
 * Accepts `text` under dedupe key `key` with ACK `ack`; a repeat is the same message when the
 * texts are equal, and the store keeps digests of the messages the key named before.
 */
function accept(store: Store, key: string, text: string, ack = ""): Promise<AcceptResult> {
  return store.accept({
    queue: QUEUE,
    origin: { kind: "integration", id: "feed" },
    payload: enc.encode(text),
    contentType: "application/hl7-v2",
    controlId: key,
    dedupe: {
      scope: "feed",
      key,
      ack,
      windowMs: DAY,
      sameMessage: (earlier) => dec.decode(earlier) === text,
      digest,
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
  assert.equal(result.status, "stored", JSON.stringify(result));
  return result as Extract<AcceptResult, { status: "stored" }>;
}

for (const [label, size] of [["small", 300], ["large (chunked)", 120_000]] as const) {
  Deno.test(`dedupe with digest, ${label}: A, then B under the same key, then A again: the third is A's duplicate, with A's id and ACK; past A's window it is new`, async () => {
    await using t = await fileStore();
    const a = "A".repeat(size), b = "B".repeat(size);
    const first = stored(await accept(t.store, "K1", a, "ack-of-A"));
    t.clock.advance(1000);
    const other = stored(await accept(t.store, "K1", b, "ack-of-B"));
    assert.equal(other.reused, first.messageId);
    t.clock.advance(1000);
    const again = await accept(t.store, "K1", a, "ack-of-A-again");
    assert.deepEqual(again, { status: "duplicate", messageId: first.messageId, ack: "ack-of-A" });
    // B is still the key's current message: its resend is its duplicate, with its ACK.
    const bAgain = await accept(t.store, "K1", b, "ack-of-B-again");
    assert.deepEqual(bAgain, { status: "duplicate", messageId: other.messageId, ack: "ack-of-B" });
    assert.deepEqual(await queued(t.store), [a, b]);
    // A's window runs from A's first copy: after it, A is a new message (B's window still runs).
    t.clock.advance(DAY - 1500);
    assert.equal(stored(await accept(t.store, "K1", a)).reused, other.messageId);
    assert.deepEqual(await queued(t.store), [a, b, a]);
  });
}

Deno.test("dedupe with digest: a message the key named several messages ago is still told, up to 20 back; a message the key never named is stored", async () => {
  await using t = await fileStore();
  const ids: string[] = [];
  for (let i = 0; i < 22; i++) {
    ids.push(stored(await accept(t.store, "K2", `message ${i}`)).messageId);
  }
  // The record names message 21; its earlier copies are 20 back to message 1.
  const back = await accept(t.store, "K2", "message 1");
  assert.deepEqual(back, { status: "duplicate", messageId: ids[1], ack: "" });
  assert.equal((await accept(t.store, "K2", "message 7")).messageId, ids[7]);
  assert.equal(stored(await accept(t.store, "K2", "message 0")).reused, ids[21], "21 back");
  assert.equal(await t.store.depth(QUEUE), 23);
});

Deno.test("dedupe with digest: the normal path digests nothing; only a message replacing another (and, when copies are kept, the one compared with them)", async () => {
  await using t = await fileStore();
  digested.length = 0;
  stored(await accept(t.store, "K3", "one"));
  stored(await accept(t.store, "K3b", "other key"));
  assert.equal((await accept(t.store, "K3", "one")).status, "duplicate");
  assert.deepEqual(digested, [], "a new key and a repeat of the current message digest nothing");
  stored(await accept(t.store, "K3", "two"));
  assert.deepEqual(digested, ["one"], "the replaced message, as read to compare");
  digested.length = 0;
  assert.equal((await accept(t.store, "K3", "one")).status, "duplicate");
  assert.deepEqual(digested, ["one"], "this one, compared with the copy kept");
});

Deno.test("dedupe with digest: a record written before copies were kept (plain ids in earlier) is read; the record replacing it keeps plain ids in earlier and the copies beside them", async () => {
  await using t = await fileStore();
  const first = stored(await accept(t.store, "K4", "first"));
  // As an older version wrote it: a message it replaced named by its id only.
  const older = "0000000000000000000000OLD";
  const key = keys.dedupe("feed", "K4");
  const record = (await t.store.kv.get<Record<string, unknown>>(key)).value!;
  await t.store.kv.set(key, { ...record, earlier: [older] });
  t.clock.advance(1000);
  const second = stored(await accept(t.store, "K4", "second"));
  assert.equal(second.reused, first.messageId);
  const again = await accept(t.store, "K4", "first");
  assert.deepEqual(again, { status: "duplicate", messageId: first.messageId, ack: "" });
  assert.deepEqual(await queued(t.store), ["first", "second"]);
  const now = (await t.store.kv.get<Record<string, unknown>>(key)).value!;
  assert.deepEqual(now.earlier, [first.messageId, older], "earlier stays a list of ids");
  assert.deepEqual(
    (now.digests as { id: string }[] | undefined)?.map((c) => c.id),
    [first.messageId],
    "the message replaced now is kept with its digest; the older one has none",
  );
});
