/**
 * Payload compression dictionaries: made from a sender's first message of a kind, used for the
 * next ones, read back after a restart and by another process, bounded per sender, and never the
 * reason a message is not stored or not read.
 * @module
 */

import assert from "node:assert/strict";
import { keys, type MessageRecord, readPayload, Store } from "../../../actors/store/mod.ts";
import {
  DICTIONARY_DAY_MS,
  dictionaryKey,
  MAX_PER_SENDER,
  sweepDictionaries,
} from "../../../actors/store/dictionaries.ts";
import { sweepStore } from "../../../actors/store/retention.ts";
import { ManualClock } from "../../../actors/runtime/clock.ts";
import { openFaultyKv } from "./fixtures/faulty_kv.ts";
import { tempDir } from "../../helpers/temp.ts";

const enc = new TextEncoder();

/** An ORU^R01 of ~1 KB, different in every field that varies between real results. */
function oru(n: number, kind = "ORU^R01"): Uint8Array {
  const [type, trigger] = kind.split("^");
  return enc.encode(
    `MSH|^~\\&|LAB|HOSP|EHR|HOSP|202612${
      String(n % 28 + 1).padStart(2, "0")
    }1200||${type}^${trigger}|` +
      `C${n}|P|2.5.1\rPID|1||${100_000 + n}^^^HOSP^MR||DOE${n}^JANE||19800101|F\r` +
      Array.from(
        { length: 16 },
        (_, i) =>
          `OBX|${i + 1}|NM|2345-${i}^GLUCOSE^LN||${90 + (n * 7 + i) % 40}|mg/dL|70-110|N|||F\r`,
      ).join(""),
  );
}

async function accept(store: Store, payload: Uint8Array, kind = "ORU^R01", sender = "lab") {
  const result = await store.accept({
    queue: "mllp-in:2575:127.0.0.1",
    origin: { kind: "integration", id: sender, peer: "127.0.0.1" },
    payload,
    contentType: "application/hl7-v2",
    messageType: kind,
    log: { type: "RECEIVE", integrationId: sender, environment: "dev" },
  });
  assert.equal(result.status, "stored");
  const record = await store.getMessage(result.messageId);
  assert.ok(record);
  return record;
}

async function dictionaryRows(kv: Deno.Kv): Promise<number> {
  let n = 0;
  for await (const _ of kv.list({ prefix: ["dict"] })) n++;
  return n;
}

Deno.test("a sender's first message of a kind makes its dictionary; the next ones are stored after it, smaller, and read back exactly", async () => {
  await using dir = await tempDir({ prefix: "dictionaries-" });
  const path = `${dir.path}/engine.kv`;
  const store = await Store.open({ path, node: "t" });
  let later: MessageRecord;
  try {
    const first = await accept(store, oru(1));
    assert.equal(first.dictionary, undefined);
    await store.dictionaries.settled();
    assert.equal(await dictionaryRows(store.kv), 1);
    later = await accept(store, oru(2));
    assert.equal(typeof later.dictionary, "string");
    assert.ok(later.inline, "kept inside the record");
    const alone = await accept(store, oru(3), "ADT^A01"); // another kind: none yet
    assert.equal(alone.dictionary, undefined);
    assert.ok(later.inline!.length * 1.6 < alone.inline!.length, "much smaller with one");
    assert.deepEqual(await store.getPayload(later), oru(2));
    // The delivery actor's batch read takes the same path.
    assert.deepEqual(await store.getSmallPayloads([later, first], 64 * 1024), [oru(2), oru(1)]);
    await store.dictionaries.settled();
  } finally {
    store.close();
  }
  // After a restart the dictionary comes from KV; new messages use the same one.
  const again = await Store.open({ path, node: "t" });
  try {
    assert.deepEqual(await again.getPayload(later), oru(2));
    const next = await accept(again, oru(4));
    await again.dictionaries.settled();
    const after = await accept(again, oru(5));
    assert.equal(after.dictionary, later.dictionary);
    assert.equal(next.dictionary ?? later.dictionary, later.dictionary);
    assert.equal(await dictionaryRows(again.kv), 2, "ORU^R01 and ADT^A01, one each");
    assert.deepEqual(await again.getPayload(after), oru(5));
  } finally {
    again.close();
  }
});

Deno.test("two processes on one KV agree on one dictionary per sender and kind, and read each other's messages", async () => {
  await using dir = await tempDir({ prefix: "dictionaries-" });
  const path = `${dir.path}/engine.kv`;
  // The stores' clock, moved on between rounds: past the wait a process keeps after losing the
  // race three times (1 s) or a KV error such as the other handle's lock (30 s).
  let now = Date.now();
  const a = await Store.open({ path, node: "a", now: () => now });
  const b = await Store.open({ path, node: "b", now: () => now });
  try {
    await Promise.all([accept(a, oru(1)), accept(b, oru(2))]);
    await Promise.all([a.dictionaries.settled(), b.dictionaries.settled()]);
    // The process that lost the race looks again with its next message of the kind.
    let fromA, fromB, i = 0;
    for (; i < 5; i++) {
      await Promise.all([accept(a, oru(10 + i)), accept(b, oru(20 + i))]);
      await Promise.all([a.dictionaries.settled(), b.dictionaries.settled()]);
      now += 60_000;
      fromA = await accept(a, oru(30 + i));
      fromB = await accept(b, oru(40 + i));
      if (fromA.dictionary && fromB.dictionary) break;
    }
    assert.equal(await dictionaryRows(a.kv), 1);
    assert.ok(fromA?.dictionary && fromA.dictionary === fromB?.dictionary);
    assert.deepEqual(await b.getPayload(fromA), oru(30 + i));
    assert.deepEqual(await a.getPayload(fromB!), oru(40 + i));
    const day = Math.floor(Date.now() / DICTIONARY_DAY_MS);
    assert.deepEqual((await a.kv.get(keys.dictionaryCount(day, "integration:lab"))).value, {
      n: 1,
    });
  } finally {
    a.close();
    b.close();
  }
});

Deno.test("a sender that makes up kinds of message gets at most its bounded number of dictionaries", async () => {
  await using dir = await tempDir({ prefix: "dictionaries-" });
  const store = await Store.open({ path: `${dir.path}/engine.kv`, node: "t" });
  try {
    const kinds = Array.from({ length: MAX_PER_SENDER + 8 }, (_, i) => `Z${i}^X${i}`);
    for (const kind of kinds) {
      await accept(store, oru(1, kind), kind);
      await store.dictionaries.settled();
    }
    assert.equal(await dictionaryRows(store.kv), MAX_PER_SENDER);
    // Kinds past the bound are stored (deflated, without a dictionary) and read back.
    const past = await accept(store, oru(2, kinds.at(-1)!), kinds.at(-1)!);
    assert.equal(past.dictionary, undefined);
    assert.deepEqual(await store.getPayload(past), oru(2, kinds.at(-1)!));
    // Another sender has its own bound.
    await accept(store, oru(3), "ORU^R01", "other");
    await store.dictionaries.settled();
    assert.equal(await dictionaryRows(store.kv), MAX_PER_SENDER + 1);
  } finally {
    store.close();
  }
});

Deno.test("a message whose dictionary is gone from KV is refused with an error naming it", async () => {
  await using dir = await tempDir({ prefix: "dictionaries-" });
  const path = `${dir.path}/engine.kv`;
  const store = await Store.open({ path, node: "t" });
  let record: MessageRecord;
  try {
    await accept(store, oru(1));
    await store.dictionaries.settled();
    record = await accept(store, oru(2));
    assert.ok(record.dictionary);
    await store.kv.delete(dictionaryKey(record.dictionary));
  } finally {
    store.close();
  }
  const again = await Store.open({ path, node: "t" });
  try {
    await assert.rejects(
      again.getPayload(record),
      /compression dictionary "\d+\\u0000integration:lab\\u0000ORU\^R01" is missing from KV/,
    );
  } finally {
    again.close();
  }
});

Deno.test("while KV cannot write a dictionary, messages are stored without one; it is tried again later", async () => {
  const faulty = await openFaultyKv();
  const clock = new ManualClock(1_000_000);
  const store = new Store(faulty.kv, { node: "t", now: () => clock.now() });
  try {
    // The disk is full when the first message of the kind asks for a dictionary.
    faulty.full = true;
    const id = store.newId();
    assert.equal(store.dictionaries.forWrite("integration:lab", "ORU^R01", id, oru(1)), undefined);
    await store.dictionaries.settled();
    assert.ok(faulty.refused > 0);
    faulty.full = false;
    assert.equal(await dictionaryRows(faulty.kv), 0);
    const meanwhile = await accept(store, oru(2));
    assert.equal(meanwhile.dictionary, undefined);
    assert.deepEqual(await store.getPayload(meanwhile), oru(2));
    // Not tried again before its time; then made from the next message.
    await store.dictionaries.settled();
    assert.equal(await dictionaryRows(faulty.kv), 0);
    clock.advance(30_000);
    await accept(store, oru(3));
    await store.dictionaries.settled();
    assert.equal(await dictionaryRows(faulty.kv), 1);
    const after = await accept(store, oru(4));
    assert.ok(after.dictionary);
    assert.deepEqual(await store.getPayload(after), oru(4));
  } finally {
    store.close();
  }
});

Deno.test("a day's dictionaries go once the day is past retention, except one a kept message still names", async () => {
  let now = Date.UTC(2026, 10, 2, 9);
  await using dir = await tempDir({ prefix: "dictionaries-" });
  const store = await Store.open({ path: `${dir.path}/engine.kv`, node: "t", now: () => now });
  try {
    // Day 1: dictionaries for two kinds; a message of each stored after its dictionary.
    for (const kind of ["ORU^R01", "ADT^A01"]) await accept(store, oru(1, kind), kind);
    await store.dictionaries.settled();
    const oruKept = await accept(store, oru(2), "ORU^R01");
    const adtGone = await accept(store, oru(3, "ADT^A01"), "ADT^A01");
    assert.ok(oruKept.dictionary && adtGone.dictionary);
    // Day 2: a dictionary of its own.
    now += DICTIONARY_DAY_MS;
    await accept(store, oru(4), "ORU^R01");
    await store.dictionaries.settled();
    assert.equal(await dictionaryRows(store.kv), 3);
    // The message sweep took day 1's messages but one that is still PENDING somewhere.
    for await (const e of store.kv.list<MessageRecord>({ prefix: ["msg"] })) {
      if (e.value.id !== oruKept.id && e.value.receivedAt < now) await store.kv.delete(e.key);
    }
    // Retention ends inside day 2: only day 1 is wholly past it (and it is before yesterday).
    const cutoff = now + 3_600_000;
    assert.equal((await sweepDictionaries(store.kv, cutoff, { now })).removed, 0, "yesterday's");
    const swept = await sweepDictionaries(store.kv, cutoff, { now: now + DICTIONARY_DAY_MS });
    assert.equal(swept.removed, 1, "day 1's ADT^A01 dictionary");
    assert.equal(await dictionaryRows(store.kv), 2);
    // Read from KV itself (this store still has both in memory).
    assert.deepEqual(await readPayload(store.kv, oruKept), oru(2));
    await assert.rejects(readPayload(store.kv, adtGone), /is missing from KV/);
    // Day 1's per-sender count went with it; day 2's stays.
    const counts = [];
    for await (const e of store.kv.list({ prefix: ["dict_count"] })) counts.push(e.key[1]);
    assert.deepEqual(counts, [Math.floor(now / DICTIONARY_DAY_MS)]);
  } finally {
    store.close();
  }
});

Deno.test("a message id of an earlier day gets no dictionary (that day's may be swept already)", async () => {
  const now = Date.UTC(2026, 10, 20, 9);
  await using dir = await tempDir({ prefix: "dictionaries-" });
  const store = await Store.open({ path: `${dir.path}/engine.kv`, node: "t", now: () => now });
  try {
    const old = store.newId().replace(
      /^.{11}/,
      (now - 3 * DICTIONARY_DAY_MS).toString(36).padStart(11, "0"),
    );
    assert.equal(store.dictionaries.forWrite("integration:lab", "ORU^R01", old, oru(1)), undefined);
    await store.dictionaries.settled();
    assert.equal(await dictionaryRows(store.kv), 0);
  } finally {
    store.close();
  }
});

Deno.test("the hourly sweep removes dictionaries no kept message needs, and counts them", async () => {
  let now = Date.UTC(2026, 10, 2, 9);
  await using dir = await tempDir({ prefix: "dictionaries-" });
  const store = await Store.open({ path: `${dir.path}/engine.kv`, node: "t", now: () => now });
  try {
    await accept(store, oru(1));
    await store.dictionaries.settled();
    assert.ok((await accept(store, oru(2))).dictionary);
    assert.equal(await dictionaryRows(store.kv), 1);
    now += 40 * DICTIONARY_DAY_MS;
    let pauses = 0;
    const swept = await sweepStore(store, {
      now,
      retentionMs: 30 * DICTIONARY_DAY_MS,
      dedupeWindowMs: DICTIONARY_DAY_MS,
      between: () => Promise.resolve(void pauses++),
    });
    // The message itself is kept (its RECEIVE log is PENDING), so its dictionary stays.
    assert.equal(swept.dictionaries, 0);
    assert.equal(await dictionaryRows(store.kv), 1);
    for await (const e of store.kv.list({ prefix: ["msg"] })) await store.kv.delete(e.key);
    const again = await sweepStore(store, {
      now,
      retentionMs: 30 * DICTIONARY_DAY_MS,
      dedupeWindowMs: DICTIONARY_DAY_MS,
    });
    assert.equal(again.dictionaries, 1);
    assert.equal(await dictionaryRows(store.kv), 0);
    assert.equal(pauses, swept.commits, "a pause after every commit, dictionaries' included");
  } finally {
    store.close();
  }
});
