import assert from "node:assert/strict";
import {
  collectOrphanChunks,
  keys,
  listLogs,
  Store,
  sweepRetention,
} from "../../../actors/store/mod.ts";
import { type TempDir, tempDir } from "../../helpers/temp.ts";

const enc = new TextEncoder();

/** A store on a KV file in `dir`. */
async function tempStore(
  dir: TempDir,
  now?: () => number,
): Promise<{ store: Store; path: string }> {
  const path = `${dir.path}/engine.kv`;
  return { store: await Store.open({ path, node: "t", ...(now ? { now } : {}) }), path };
}

function acceptOne(store: Store, text: string, queue = "mllp-in:9960:127.0.0.1") {
  return store.accept({
    queue,
    origin: { kind: "integration", id: "feed", peer: "127.0.0.1" },
    payload: enc.encode(text),
    contentType: "application/hl7-v2",
    controlId: text,
    log: { type: "RECEIVE", integrationId: "feed", environment: "dev" },
  });
}

Deno.test("store keeps an accepted message after the KV file is closed and reopened", async () => {
  await using dir = await tempDir({ prefix: "store-test-" });
  const { store, path } = await tempStore(dir);
  const r = await acceptOne(store, "MSH|one");
  assert.equal(r.status, "stored");
  store.close();
  const again = await Store.open({ path, node: "t" });
  try {
    const head = await again.peek("mllp-in:9960:127.0.0.1");
    assert.equal(head.length, 1);
    const record = await again.getMessage(head[0]!.entry.messageId);
    assert.ok(record);
    assert.equal(new TextDecoder().decode(await again.getPayload(record)), "MSH|one");
    assert.equal(await again.depth("mllp-in:9960:127.0.0.1"), 1);
    const log = await again.getLog(head[0]!.entry.logId);
    assert.equal(log?.status, "PENDING");
    assert.equal(log?.type, "RECEIVE");
  } finally {
    again.close();
  }
});

Deno.test("store group-commits concurrent accepts and keeps their queue order", async () => {
  await using dir = await tempDir({ prefix: "store-test-" });
  const { store } = await tempStore(dir);
  try {
    const n = 500;
    const results = await Promise.all(
      Array.from({ length: n }, (_, i) => acceptOne(store, `m${String(i).padStart(4, "0")}`)),
    );
    assert.ok(results.every((r) => r.status === "stored"));
    const { batches, writes, mutations } = store.commitStats;
    assert.equal(writes, n);
    assert.ok(batches < n / 5, `expected batching, got ${batches} batches for ${n} writes`);
    // Message, log and queue entry per write; the queue's depth summed once per batch.
    assert.equal(mutations, 3 * n + batches);
    const heads = await store.peek("mllp-in:9960:127.0.0.1", n);
    const order = await Promise.all(
      heads.map(async (h) => (await store.getMessage(h.entry.messageId))?.controlId),
    );
    assert.deepEqual(order, results.map((_, i) => `m${String(i).padStart(4, "0")}`));
    assert.equal(await store.depth("mllp-in:9960:127.0.0.1"), n);
  } finally {
    store.close();
  }
});

Deno.test("store answers a repeated control id with the stored ACK and enqueues it once", async () => {
  await using dir = await tempDir({ prefix: "store-test-" });
  const { store } = await tempStore(dir);
  try {
    const request = (ack: string) => ({
      queue: "in",
      origin: { kind: "integration" as const, id: "feed" },
      payload: enc.encode("MSH|x"),
      contentType: "application/hl7-v2",
      dedupe: { scope: "feed", key: "CTRL1", ack, windowMs: 60_000 },
      log: { type: "RECEIVE" as const },
    });
    const [a, b] = await Promise.all([
      store.accept(request("ACK-1")),
      store.accept(request("ACK-2")),
    ]);
    const c = await store.accept(request("ACK-3"));
    assert.equal(a.status, "stored");
    assert.equal(b.status, "duplicate");
    assert.equal(c.status, "duplicate");
    if (c.status === "duplicate") assert.equal(c.ack, "ACK-1");
    assert.equal(await store.depth("in"), 1);
  } finally {
    store.close();
  }
});

Deno.test("store round-trips a 3 MiB payload through chunks", async () => {
  await using dir = await tempDir({ prefix: "store-test-" });
  const { store } = await tempStore(dir);
  try {
    const big = new Uint8Array(3 * 1024 * 1024 + 17);
    for (let i = 0; i < big.length; i++) big[i] = (i * 31) & 0xff;
    const r = await store.accept({
      queue: "in",
      origin: { kind: "integration", id: "feed" },
      payload: big,
      contentType: "application/hl7-v2",
      log: { type: "RECEIVE" },
    });
    assert.equal(r.status, "stored");
    const record = await store.getMessage(r.messageId);
    assert.ok(record && record.chunks > 1);
    assert.deepEqual(await store.getPayload(record), big);
    assert.equal((await store.kv.get(keys.chunkPending(r.messageId))).value, null);
  } finally {
    store.close();
  }
});

Deno.test("store reads many payloads together: in the record, deflated, in a row of their own; large ones later", async () => {
  await using dir = await tempDir({ prefix: "store-test-" });
  const { store } = await tempStore(dir);
  try {
    const random = (n: number) => {
      const out = new Uint8Array(n);
      for (let at = 0; at < n; at += 65536) crypto.getRandomValues(out.subarray(at, at + 65536));
      return out;
    };
    const text = (n: number) =>
      enc.encode("MSH|^~\\&|" + "PID|1||12345^^^HOSP||DOE^JANE\r".repeat(n));
    // Small (as is), text that deflates into the record, base64 still too big deflated, random
    // bytes that do not deflate, one 50 KiB chunk, and a payload of several chunks; 25 of them,
    // so the reads span groups of ten.
    const shapes = [
      () => enc.encode("MSH|small"),
      () => text(30),
      () => enc.encode("MSH|" + btoa(String.fromCharCode(...random(900)))),
      () => random(900),
      () => random(50 * 1024),
      () => random(200 * 1024),
    ];
    const payloads = Array.from({ length: 25 }, (_, i) => shapes[i % shapes.length]!());
    const records = [];
    for (const payload of payloads) {
      const r = await store.accept({
        queue: "in",
        origin: { kind: "integration", id: "feed" },
        payload,
        contentType: "application/hl7-v2",
        log: { type: "RECEIVE" },
      });
      records.push((await store.getMessage(r.messageId))!);
    }
    // Every way a payload is kept is among them.
    assert.ok(records.some((r) => r.chunks === 0 && !r.deflated));
    assert.ok(records.some((r) => r.chunks === 0 && r.deflated));
    assert.ok(records.some((r) => r.chunks === 1 && r.deflated));
    assert.ok(records.some((r) => r.chunks === 1 && !r.deflated));
    assert.ok(records.some((r) => r.chunks > 1));
    const got = await store.getSmallPayloads(records, 64 * 1024);
    assert.equal(got.length, records.length);
    for (const [i, record] of records.entries()) {
      if (record.chunks > 1) assert.equal(got[i], undefined, `message ${i} has several chunks`);
      else assert.deepEqual(got[i], payloads[i], `payload ${i}`);
      assert.deepEqual(await store.getPayload(record), payloads[i], `getPayload ${i}`);
    }
    // Past maxBytes a payload is left for later, even in one row.
    const capped = await store.getSmallPayloads(records, 1024);
    for (const [i, record] of records.entries()) {
      assert.equal(capped[i] === undefined, record.size > 1024, `payload ${i} capped`);
    }
  } finally {
    store.close();
  }
});

Deno.test("store garbage-collects chunks a crash left without a message", async () => {
  let now = 1_000_000;
  await using dir = await tempDir({ prefix: "store-test-" });
  const { store } = await tempStore(dir, () => now);
  try {
    await store.kv.set(keys.chunkPending("orphan"), now);
    await store.kv.set(keys.chunk("orphan", 0), new Uint8Array(10));
    await store.kv.set(keys.chunk("orphan", 1), new Uint8Array(10));
    assert.equal(await collectOrphanChunks(store.kv, now), 0, "a fresh write is left alone");
    now += 11 * 60_000;
    assert.equal(await collectOrphanChunks(store.kv, now), 1);
    const left = [];
    for await (const e of store.kv.list({ prefix: ["chunk"] })) left.push(e);
    assert.equal(left.length, 0);
  } finally {
    store.close();
  }
});

Deno.test("store keeps queue depths exact when accepts and routes of a queue share batches", async () => {
  await using dir = await tempDir({ prefix: "store-test-" });
  const { store } = await tempStore(dir);
  try {
    for (let i = 0; i < 20; i++) await acceptOne(store, `first${i}`, "in");
    const heads = await store.peek("in", 20);
    const out = (h: (typeof heads)[number]) => [{
      queue: "out",
      destinationId: "d",
      messageId: h.entry.messageId,
      originalId: h.entry.messageId,
      log: {},
    }];
    // Issued in one turn: +1s and -1s on "in", +1s on "out", in the same atomic operations.
    const results = await Promise.all([
      ...heads.map((h) => store.route(h, out(h), { status: "SUCCEEDED" })),
      ...Array.from({ length: 15 }, (_, i) => acceptOne(store, `second${i}`, "in")),
      // A stale head: refused, and its -1 must not count.
      store.route(heads[0]!, out(heads[0]!), { status: "SUCCEEDED" }),
    ]);
    assert.equal(results.filter((r) => r === false).length, 1);
    assert.equal(await store.depth("in"), 15);
    assert.equal(await store.depth("out"), 20);
    assert.deepEqual(await store.nonEmptyQueues(), new Map([["in", 15], ["out", 20]]));
  } finally {
    store.close();
  }
});

Deno.test("store lists a message's logs in id order, its RECEIVE log first", async () => {
  await using dir = await tempDir({ prefix: "store-test-" });
  const { store } = await tempStore(dir);
  try {
    await acceptOne(store, "MSH|logs", "in");
    const [head] = await store.peek("in");
    assert.ok(head);
    const record = await store.getMessage(head.entry.messageId);
    assert.equal(record?.receiveLogId, head.entry.logId);
    const deliveries = ["a", "b"].map((d) => ({
      queue: `out:${d}`,
      destinationId: d,
      messageId: head.entry.messageId,
      originalId: head.entry.messageId,
      log: {},
    }));
    assert.equal(await store.route(head, deliveries, { status: "SUCCEEDED" }), true);
    const logs = await store.logsOfMessage(head.entry.messageId);
    assert.deepEqual(logs.map((l) => l.type), ["RECEIVE", "SEND", "SEND"]);
    assert.equal(logs[0]!.id, head.entry.logId);
    assert.deepEqual(logs.map((l) => l.id), logs.map((l) => l.id).sort());
  } finally {
    store.close();
  }
});

Deno.test("store routes a head to several queues in one step and refuses a stale head", async () => {
  await using dir = await tempDir({ prefix: "store-test-" });
  const { store } = await tempStore(dir);
  try {
    const r = await acceptOne(store, "MSH|route", "in");
    assert.equal(r.status, "stored");
    const [head] = await store.peek("in");
    assert.ok(head);
    const deliveries = ["a", "b"].map((d) => ({
      queue: `out:${d}`,
      destinationId: d,
      messageId: head.entry.messageId,
      originalId: head.entry.messageId,
      log: { environment: "dev", dataModel: "PatientAdmin", eventType: "Arrival" },
    }));
    assert.equal(await store.route(head, deliveries, { status: "SUCCEEDED" }), true);
    assert.equal(await store.route(head, deliveries, { status: "SUCCEEDED" }), false);
    assert.equal(await store.depth("in"), 0);
    assert.equal(await store.depth("out:a"), 1);
    assert.equal(await store.depth("out:b"), 1);
    const logs = await store.logsOfMessage(head.entry.messageId);
    assert.deepEqual(logs.map((l) => `${l.type}:${l.status}`).sort(), [
      "RECEIVE:SUCCEEDED",
      "SEND:PENDING",
      "SEND:PENDING",
    ]);
    const [outHead] = await store.peek("out:a");
    assert.ok(outHead);
    await store.recordAttempt(outHead.entry.logId, { at: 1, outcome: "FAILED", reason: "AE" });
    assert.equal(
      await store.complete(outHead, { at: 2, outcome: "SUCCEEDED", reason: "AA" }),
      true,
    );
    assert.equal(await store.complete(outHead, { at: 3, outcome: "SUCCEEDED" }), false);
    const log = await store.getLog(outHead.entry.logId);
    assert.equal(log?.status, "SUCCEEDED");
    assert.deepEqual(log?.attempts.map((a) => `${a.n}:${a.outcome}`), ["1:FAILED", "2:SUCCEEDED"]);
    assert.equal(await store.depth("out:a"), 0);
  } finally {
    store.close();
  }
});

Deno.test("store dead-letters a head with who, why and when", async () => {
  await using dir = await tempDir({ prefix: "store-test-" });
  let now = Date.UTC(2026, 5, 1, 8, 0);
  const { store } = await tempStore(dir, () => now);
  try {
    await acceptOne(store, "MSH|dlq", "q1");
    const [head] = await store.peek("q1");
    assert.ok(head);
    now += 90_000;
    assert.equal(await store.deadLetter(head, "admin:ops", "bad PID"), true);
    assert.equal(await store.depth("q1"), 0);
    const dlq = await store.deadLetters("q1");
    assert.equal(dlq.length, 1);
    assert.equal(dlq[0]?.by, "admin:ops");
    // When it was moved aside, not only when it was queued.
    assert.equal(dlq[0]?.at, now);
    assert.equal(dlq[0]?.enqueuedAt, now - 90_000);
    const log = await store.getLog(head.entry.logId);
    assert.equal(log?.status, "FAILED");
    assert.equal(log?.deadLetter?.reason, "bad PID");
  } finally {
    store.close();
  }
});

Deno.test("store keeps both an attempt and a dead-letter written to one log at the same moment", async () => {
  await using dir = await tempDir({ prefix: "store-test-" });
  const { store } = await tempStore(dir);
  try {
    for (let i = 0; i < 10; i++) {
      await acceptOne(store, `MSH|race${i}`, "q-race");
      const [head] = await store.peek("q-race");
      assert.ok(head);
      // The actor records a failed attempt while an operator skips the head.
      await Promise.all([
        store.recordAttempt(head.entry.logId, { at: 1, outcome: "FAILED", reason: "AE" }),
        store.deadLetter(head, "admin:bob", "skip"),
        store.updateLog(head.entry.logId, { dataModel: "PatientAdmin" }),
      ]);
      const log = await store.getLog(head.entry.logId);
      assert.equal(log?.status, "FAILED", `round ${i}`);
      assert.equal(log?.deadLetter?.by, "admin:bob", `round ${i}`);
      assert.equal(log?.attemptCount, 1, `round ${i}`);
      assert.equal(log?.dataModel, "PatientAdmin", `round ${i}`);
    }
  } finally {
    store.close();
  }
});

Deno.test("store lists logs newest first with filters and a cursor", async () => {
  let now = Date.UTC(2026, 0, 1);
  await using dir = await tempDir({ prefix: "store-test-" });
  const { store } = await tempStore(dir, () => now);
  try {
    for (let i = 0; i < 30; i++) {
      now += 1000;
      await acceptOne(store, `m${i}`, `q${i % 3}`);
    }
    const page1 = await listLogs(store.kv, { limit: 10 });
    assert.equal(page1.logs.length, 10);
    assert.equal(page1.logs[0]?.controlId, "m29");
    const page2 = await listLogs(store.kv, { limit: 10, cursor: page1.next! });
    assert.equal(page2.logs[0]?.controlId, "m19");
    const since = await listLogs(store.kv, { since: Date.UTC(2026, 0, 1) + 25_000 });
    assert.deepEqual(since.logs.map((l) => l.controlId), [
      "m29",
      "m28",
      "m27",
      "m26",
      "m25",
      "m24",
    ]);
    const pending = await listLogs(store.kv, { status: "PENDING", type: "SEND" });
    assert.equal(pending.logs.length, 0);
  } finally {
    store.close();
  }
});

Deno.test("store retention sweeps finished logs and messages but keeps queued ones", async () => {
  let now = Date.UTC(2026, 0, 1);
  await using dir = await tempDir({ prefix: "store-test-" });
  const { store } = await tempStore(dir, () => now);
  try {
    await acceptOne(store, "old-done", "q");
    await acceptOne(store, "old-queued", "q");
    const [done] = await store.peek("q");
    assert.ok(done);
    await store.complete(done, { at: now, outcome: "SUCCEEDED" });
    now += 40 * 86_400_000;
    const swept = await sweepRetention(store.kv, now, 30 * 86_400_000);
    assert.deepEqual(swept, { logs: 1, messages: 1 });
    assert.equal(await store.getMessage(done.entry.messageId), null);
    const [queued] = await store.peek("q");
    assert.ok(queued && (await store.getMessage(queued.entry.messageId)));
  } finally {
    store.close();
  }
});

Deno.test("store delivers a stored translation while logs stay on the original message", async () => {
  await using dir = await tempDir({ prefix: "store-test-" });
  const { store } = await tempStore(dir);
  try {
    await acceptOne(store, "MSH|orig", "in");
    const [head] = await store.peek("in");
    assert.ok(head);
    const prepared = await store.prepareDerived(
      head.entry.messageId,
      enc.encode('{"Meta":{}}'),
      "application/json",
    );
    const derived = prepared.id;
    assert.equal(
      await store.route(
        head,
        [{
          queue: "https:api",
          destinationId: "api",
          messageId: derived,
          originalId: head.entry.messageId,
          log: {},
        }],
        { status: "SUCCEEDED" },
        { derived: [prepared] },
      ),
      true,
    );
    const [out] = await store.peek("https:api");
    assert.equal(out?.entry.messageId, derived);
    assert.equal(out?.entry.originalId, head.entry.messageId);
    const record = await store.getMessage(derived);
    assert.equal(record?.derivedFrom, head.entry.messageId);
    assert.equal(new TextDecoder().decode(await store.getPayload(record!)), '{"Meta":{}}');
    const logs = await store.logsOfMessage(head.entry.messageId);
    assert.deepEqual(logs.map((l) => l.type).sort(), ["RECEIVE", "SEND"]);
  } finally {
    store.close();
  }
});

Deno.test("store: a translation prepared for a route is stored by the routing commit, and not at all when the route is refused", async () => {
  await using dir = await tempDir({ prefix: "store-test-" });
  const { store } = await tempStore(dir);
  try {
    await acceptOne(store, "MSH|translated", "in");
    const [head] = await store.peek("in");
    assert.ok(head);
    const bytes = new TextEncoder().encode('{"Meta":{"DataModel":"PatientAdmin"}}');
    const batches = store.commitStats.batches;
    const derived = await store.prepareDerived(head.entry.messageId, bytes, "application/json");
    // Prepared, a small translation has written nothing yet.
    assert.equal(store.commitStats.batches, batches);
    assert.equal(await store.getMessage(derived.id), null);
    const delivery = {
      queue: "out:json",
      destinationId: "json",
      messageId: derived.id,
      originalId: head.entry.messageId,
      log: {},
    };
    assert.equal(
      await store.route(head, [delivery], { status: "SUCCEEDED" }, { derived: [derived] }),
      true,
    );
    // One commit stored the translation with the route that sends it.
    assert.equal(store.commitStats.batches, batches + 1);
    const record = await store.getMessage(derived.id);
    assert.equal(record?.derivedFrom, head.entry.messageId);
    assert.deepEqual(await store.getPayload(record!), bytes);
    const [entry] = await store.peek("out:json");
    assert.equal(entry?.entry.messageId, derived.id);
    // The head is gone: a second route is refused, and its translation is not written either.
    const stale = await store.prepareDerived(head.entry.messageId, bytes, "application/json");
    assert.equal(
      await store.route(head, [{ ...delivery, messageId: stale.id }], { status: "SUCCEEDED" }, {
        derived: [stale],
      }),
      false,
    );
    assert.equal(await store.getMessage(stale.id), null);
    assert.equal(await store.depth("out:json"), 1);
  } finally {
    store.close();
  }
});
