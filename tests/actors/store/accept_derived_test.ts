/**
 * `Store.accept` with `derived`: the translations a routed message's deliveries send are stored
 * by the commit that stores the message, never without it, and each routed entry comes back with
 * the record of the message it sends, for its actor to take in memory.
 */

import assert from "node:assert/strict";
import { keys, Store } from "../../../actors/store/mod.ts";
import type { AcceptRequest, Delivery } from "../../../actors/store/mod.ts";
import { type TempDir, tempDir } from "../../helpers/temp.ts";

const enc = new TextEncoder();

/** A store on a KV file in `dir`. */
async function tempStore(dir: TempDir): Promise<Store> {
  return await Store.open({ path: `${dir.path}/engine.kv`, node: "t" });
}

function delivery(queue: string, messageId: string, originalId: string): Delivery {
  return { queue, destinationId: queue, messageId, originalId, log: { sourceId: "app" } };
}

function request(messageId: string, deliveries: Delivery[]): AcceptRequest {
  return {
    queue: "api:app",
    messageId,
    origin: { kind: "source", id: "app", peer: "127.0.0.1" },
    payload: enc.encode('{"Meta":{"DataModel":"PatientAdmin"}}'),
    contentType: "application/json",
    log: { type: "RECEIVE", sourceId: "app", environment: "dev" },
    deliveries,
  };
}

Deno.test("store: an accept stores its deliveries' translations in its own commit, and gives back each entry with the message it sends", async () => {
  await using dir = await tempDir({ prefix: "accept-derived-" });
  const store = await tempStore(dir);
  try {
    const id = store.newId();
    const hl7 = enc.encode("MSH|^~\\&|APP|||||||ADT^A01|C1|P|2.5.1");
    // A message stored before this accept (here another accepted message) is read from KV.
    const earlier = store.newId();
    assert.equal((await store.accept(request(earlier, []))).status, "stored");
    const batches = store.commitStats.batches;
    const translation = await store.prepareDerived(id, hl7, "application/hl7-v2");
    assert.equal(store.commitStats.batches, batches, "a small translation writes nothing first");
    const deliveries = [
      delivery("out:json", id, id),
      delivery("out:hl7", translation.id, id),
      delivery("out:old", earlier, id),
    ];
    const result = await store.accept({ ...request(id, deliveries), derived: [translation] });
    assert.equal(result.status, "stored");
    assert.equal(store.commitStats.batches, batches + 1, "one commit stored it all");
    const stored = await store.getMessage(translation.id);
    assert.equal(stored?.derivedFrom, id);
    assert.deepEqual(await store.getPayload(stored!), hl7);
    // Handed on: the original with the sender's payload, the translation with its own record.
    // The entry sending a message stored before the accept is left for its actor to read.
    const routed = result.status === "stored" ? result.routed ?? [] : [];
    assert.deepEqual(routed.map((r) => [r.head.queue, r.record.id]), [
      ["out:json", id],
      ["out:hl7", translation.id],
    ]);
    assert.deepEqual(routed[0]!.payload, request(id, []).payload);
    assert.equal(routed[1]!.record.contentType, "application/hl7-v2");
    // With its payload, an entry can be sent ahead by a socket that runs ahead.
    assert.deepEqual(routed[1]!.payload, hl7);
    assert.equal(routed[1]!.head.entry.messageId, translation.id);
    for (const r of routed) assert.equal(r.log?.id, r.head.entry.logId);
    const [head] = await store.peek("out:old");
    assert.equal(head?.entry.messageId, earlier);
  } finally {
    store.close();
  }
});

Deno.test("store: a refused accept (a repeat within the dedupe window) stores none of its translations", async () => {
  await using dir = await tempDir({ prefix: "accept-derived-" });
  const store = await tempStore(dir);
  try {
    const dedupe = { scope: "app", key: "C1", ack: "", windowMs: 60_000 };
    const first = store.newId();
    assert.equal((await store.accept({ ...request(first, []), dedupe })).status, "stored");
    const again = store.newId();
    const translation = await store.prepareDerived(
      again,
      enc.encode("MSH|x"),
      "application/hl7-v2",
    );
    const result = await store.accept({
      ...request(again, [delivery("out:hl7", translation.id, again)]),
      dedupe,
      derived: [translation],
    });
    assert.equal(result.status, "duplicate");
    assert.equal(await store.getMessage(translation.id), null);
    assert.equal(await store.depth("out:hl7"), 0);
  } finally {
    store.close();
  }
});

Deno.test("store: a large translation's chunks are written first and claimed by the accept commit", async () => {
  await using dir = await tempDir({ prefix: "accept-derived-" });
  const store = await tempStore(dir);
  try {
    const id = store.newId();
    const big = enc.encode("OBX|".padEnd(200 * 1024, "x"));
    const translation = await store.prepareDerived(id, big, "application/hl7-v2");
    // Until the accept commits, the chunks are marked pending (an orphan collector's to remove).
    assert.notEqual((await store.kv.get(keys.chunkPending(translation.id))).value, null);
    const result = await store.accept({
      ...request(id, [delivery("out:hl7", translation.id, id)]),
      derived: [translation],
    });
    assert.equal(result.status, "stored");
    assert.equal((await store.kv.get(keys.chunkPending(translation.id))).value, null);
    const stored = await store.getMessage(translation.id);
    assert.deepEqual(await store.getPayload(stored!), big);
    const routed = result.status === "stored" ? result.routed ?? [] : [];
    assert.equal(routed[0]?.record.id, translation.id);
  } finally {
    store.close();
  }
});

Deno.test("store: a translation is deflated after its sender's dictionary for that kind once there is one, and reads back", async () => {
  await using dir = await tempDir({ prefix: "accept-derived-" });
  const store = await tempStore(dir);
  try {
    // A 1 KB HL7 message, as an edit would write it: most of its text repeats from one to the next.
    const hl7 = (n: number) =>
      enc.encode(
        [
          `MSH|^~\\&|EPIC|ENGINE|LAB|CLINIC|20240315123000||ADT^A01^ADT_A01|C${n}|P|2.5.1`,
          "EVN|A01|20240315123000",
          `PID|1||MRN${n}^^^HOSP^MR||DOE^JANE^Q||19800101|F|||1 MAIN ST^^SPRINGFIELD^IL^62701`,
          "PV1|1|I|4WEST^412^B^HOSP||||1234^WELBY^MARCUS^^^DR|||MED||||7|||1234^WELBY^MARCUS",
          ...Array.from({ length: 16 }, (_, i) =>
            `OBX|${i + 1}|NM|8867-4^HEART RATE^LN||${70 + n}|/min`),
        ].join("\r"),
      );
    const dictionary = { sender: "integration:feed", kind: "ADT^A01 as application/hl7-v2" };
    const accept = async (n: number) => {
      const id = store.newId();
      const t = await store.prepareDerived(id, hl7(n), "application/hl7-v2", { dictionary });
      const r = await store.accept({
        ...request(id, [delivery("out:hl7", t.id, id)]),
        derived: [t],
      });
      assert.equal(r.status, "stored");
      return t;
    };
    const first = await accept(1);
    // The first of the day has no dictionary yet: it is made from it, in the background.
    assert.equal(first.record.dictionary, undefined);
    await store.dictionaries.settled();
    const second = await accept(2);
    assert.ok(second.record.dictionary, "the second translation names its dictionary");
    assert.ok(second.record.deflated);
    const inRecord = (t: typeof first) => t.record.inline?.length ?? Infinity;
    assert.ok(
      inRecord(second) < inRecord(first) / 2,
      `${inRecord(second)} bytes with the dictionary, ${inRecord(first)} without`,
    );
    for (const [t, n] of [[first, 1], [second, 2]] as const) {
      const stored = await store.getMessage(t.id);
      assert.deepEqual(await store.getPayload(stored!), hl7(n));
    }
  } finally {
    store.close();
  }
});
