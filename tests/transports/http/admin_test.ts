import assert from "node:assert/strict";
import type { ActorStatus } from "../../../actors/runtime/actor.ts";
import { ManualClock } from "../../../actors/runtime/clock.ts";
import { INLINE_MAX, type LogRecord } from "../../../actors/store/mod.ts";
import {
  DEST,
  enc,
  type Engine,
  enqueue,
  logOf,
  type Reply,
  statusOf,
  waitFor,
  withEngine,
} from "./engine_fixture.ts";

/** Every time in an admin answer: ISO 8601 UTC to the millisecond. */
const ISO_UTC = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

Deno.test("admin lists actors and shows one whose id contains colons, encoded or not", async () => {
  await withEngine(async (e) => {
    const list = await e.call("/admin/actors");
    assert.equal(list.status, 200);
    assert.match(list.json.at, ISO_UTC);
    assert.deepEqual(list.json.actors.map((a: ActorStatus) => [a.id, a.state, a.queueDepth]), [
      [DEST, "idle", 0],
    ]);
    await enqueue(e.store, "MSH|one");
    const one = await e.call(`/admin/actors/${DEST}`);
    assert.equal(one.status, 200);
    assert.equal(one.json.id, DEST);
    assert.equal(one.json.kind, "mllp-out");
    assert.equal(one.json.queueDepth, 1);
    assert.equal(typeof one.json.oldestAgeMs, "number");
    const encoded = await e.call(`/admin/actors/${encodeURIComponent(DEST)}`);
    assert.equal(encoded.status, 200);
    assert.equal(encoded.json.id, DEST);
    const dl = await e.call(`/admin/actors/${encodeURIComponent(DEST)}/dead-letters`);
    assert.deepEqual(dl.json, { actor: DEST, deadLetters: [] });
    // A parameter it does not take, or a limit given twice, is refused, not ignored.
    const path = `/admin/actors/${encodeURIComponent(DEST)}/dead-letters`;
    const unknown = await e.call(`${path}?limit=5&cursor=x`);
    assert.equal(unknown.status, 400);
    assert.deepEqual(unknown.json, { error: 'unknown parameter "cursor"; allowed: limit' });
    const twice = await e.call(`${path}?limit=5&limit=6`);
    assert.deepEqual([twice.status, twice.json], [400, { error: "limit: given more than once" }]);
    // Not activated by looking: nothing was delivered.
    assert.equal(e.deliverer.sent.length, 0);
  });
});

Deno.test("admin answers 404 for unknown actors, logs and messages", async () => {
  await withEngine(async (e) => {
    const actor = await e.call("/admin/actors/https:nope");
    assert.equal(actor.status, 404);
    assert.deepEqual(actor.json, { error: "no actor https:nope" });
    const cmd = await e.call("/admin/actors/https:nope/pause", { method: "POST" });
    assert.equal(cmd.status, 404);
    assert.deepEqual(cmd.json, { error: "no actor https:nope" });
    assert.equal((await e.call("/admin/actors/https:nope/dead-letters")).status, 404);
    assert.deepEqual((await e.call("/admin/logs/0000nolog")).json, { error: "no log 0000nolog" });
    const msg = await e.call("/admin/messages/0000nomsg?raw=1");
    assert.equal(msg.status, 404);
    assert.deepEqual(msg.json, { error: "no message 0000nomsg" });
    // An id of the longest length allowed is looked up (and not found).
    assert.equal((await e.call(`/admin/messages/${"x".repeat(256)}`)).status, 404);
  });
});

/**
 * Notifies DEST of new work and waits until its loop has seen the notify and parked again: the
 * ManualClock moves 1 ms first, so only a sleep begun after the notify ends later than `before`.
 * Afterwards nothing more happens until the clock moves or another wake-up comes.
 */
async function notifyAndWaitParked(e: Engine, clock: ManualClock): Promise<void> {
  const before = clock.nextWake ?? -Infinity;
  clock.advance(1);
  e.supervisor.notify(DEST);
  await waitFor(
    "the actor parked again after the notify",
    () => Promise.resolve(clock.pending === 1 && clock.nextWake! > before),
  );
}

Deno.test("admin pauses an actor with who and why, shows it paused, and resumes it", async () => {
  const clock = new ManualClock();
  await withEngine(async (e) => {
    // Activate first and let the loop load its state: pausing an actor that is not yet running
    // races with DeliveryActor.run reading its control from KV (see the test below).
    await e.supervisor.activate(DEST);
    await waitFor("actor running", () => Promise.resolve(e.deliverer.idles > 0));
    const paused = await e.call(`/admin/actors/${DEST}/pause`, {
      method: "POST",
      body: JSON.stringify({ by: "alice", reason: "peer maintenance" }),
    });
    assert.equal(paused.status, 200);
    assert.equal(paused.json.ok, true);
    const status = await waitFor("paused", async () => {
      const s = await statusOf(e);
      return s.state === "paused" && s;
    });
    assert.equal(status.paused?.by, "alice");
    assert.equal(status.paused?.reason, "peer maintenance");
    assert.match(String(status.paused?.at), ISO_UTC);
    const { sendLogId } = await enqueue(e.store, "MSH|while-paused");
    await waitFor("parked", () => Promise.resolve(clock.pending === 1));
    await notifyAndWaitParked(e, clock);
    assert.equal(e.deliverer.sent.length, 0);
    const held = await statusOf(e);
    assert.equal(held.state, "paused");
    assert.equal(held.queueDepth, 1);
    const resumed = await e.call(`/admin/actors/${DEST}/resume`, { method: "POST" });
    assert.deepEqual(resumed.json, { ok: true, message: "resumed" });
    await waitFor("delivery", async () => (await logOf(e, sendLogId)).status === "SUCCEEDED");
    const after = await statusOf(e);
    assert.equal(after.queueDepth, 0);
    assert.equal(after.paused, undefined);
    assert.ok(e.lines.some((l) => /actor\.command .*command=pause by=alice/.test(l)));
  }, { clock });
});

Deno.test("admin refuses a skip without a reason and, with one, moves the head to the dead-letter list", async () => {
  await withEngine(async (e) => {
    e.deliverer.mode = "fail";
    const first = await enqueue(e.store, "MSH|bad-pid");
    const second = await enqueue(e.store, "MSH|next");
    e.supervisor.notify(DEST);
    const backoff = await waitFor("backoff", async () => {
      const s = await statusOf(e);
      return s.state === "backoff" && s.inFlight?.attempts === 2 && s;
    });
    assert.equal(backoff.inFlight?.messageId, first.messageId);
    assert.match(String(backoff.nextRetryAt), ISO_UTC);
    const skip = (body?: string) => e.call(`/admin/actors/${DEST}/skip`, { method: "POST", body });
    const noReason = await skip();
    assert.equal(noReason.status, 400);
    assert.match(noReason.json.error, /^reason: required/);
    assert.equal((await skip(JSON.stringify({ reason: "  " }))).status, 400);
    const twice = await skip('{"reason": "bad PID-3", "reason": ""}');
    assert.equal(twice.status, 400);
    assert.equal(twice.json.error, 'invalid JSON body: "reason" is named twice');
    const badJson = await skip("{reason: oops");
    assert.equal(badJson.status, 400);
    assert.match(badJson.json.error, /^invalid JSON body: /);
    assert.match((await skip(JSON.stringify({ reason: 5 }))).json.error, /^reason: /);
    assert.match((await skip(JSON.stringify({ why: "x" }))).json.error, /unknown field "why"/);
    assert.equal((await skip(JSON.stringify({ reason: "x".repeat(20_000) }))).status, 413);
    assert.equal((await statusOf(e)).queueDepth, 2);

    e.deliverer.mode = "ok";
    const done = await skip(JSON.stringify({ by: "bob", reason: "bad PID-3" }));
    assert.equal(done.status, 200);
    assert.deepEqual(done.json, {
      ok: true,
      message: `message ${first.messageId} moved to the dead-letter list`,
    });
    const dl = await e.call(`/admin/actors/${DEST}/dead-letters`);
    assert.equal(dl.json.deadLetters.length, 1);
    assert.equal(dl.json.deadLetters[0].messageId, first.messageId);
    assert.equal(dl.json.deadLetters[0].by, "bob");
    assert.equal(dl.json.deadLetters[0].reason, "bad PID-3");
    const log = await logOf(e, first.sendLogId);
    assert.equal(log.status, "FAILED");
    assert.equal(log.deadLetter?.by, "bob");
    assert.equal(log.deadLetter?.reason, "bad PID-3");
    assert.deepEqual(log.attempts.map((a) => [a.n, a.outcome, a.reason]), [
      [1, "FAILED", "AE: peer refused"],
      [2, "FAILED", "AE: peer refused"],
    ]);
    await waitFor(
      "next delivered",
      async () => (await logOf(e, second.sendLogId)).status === "SUCCEEDED",
    );
    assert.equal((await statusOf(e)).queueDepth, 0);
  });
});

Deno.test("admin retries a waiting head now and answers 409 when no retry is waiting", async () => {
  await withEngine(async (e) => {
    const idle = await e.call(`/admin/actors/${DEST}/retry`, { method: "POST" });
    assert.equal(idle.status, 409);
    assert.deepEqual(idle.json, { ok: false, message: "no retry is waiting" });
    e.deliverer.mode = "fail";
    const { sendLogId } = await enqueue(e.store, "MSH|retry-me");
    e.supervisor.notify(DEST);
    await waitFor("backoff", async () => {
      const s = await statusOf(e);
      return s.state === "backoff" && s.inFlight?.attempts === 2;
    });
    e.deliverer.mode = "ok";
    const retry = await e.call(`/admin/actors/${DEST}/retry`, {
      method: "POST",
      body: JSON.stringify({ reason: "peer is back" }),
    });
    assert.equal(retry.status, 200);
    assert.equal(retry.json.ok, true);
    const log = await waitFor("delivery", async () => {
      const l = await logOf(e, sendLogId);
      return l.status === "SUCCEEDED" && l;
    });
    assert.deepEqual(log.attempts.map((a) => a.outcome), ["FAILED", "FAILED", "SUCCEEDED"]);
    assert.equal((await e.call(`/admin/actors/${DEST}/retry`, { method: "POST" })).status, 409);
    assert.ok(e.lines.some((l) => /command=retry by=admin reason="peer is back" ok=true/.test(l)));
  });
});

Deno.test("admin lists logs with filters and pages through them with a cursor", async () => {
  await withEngine(async (e) => {
    const start = Date.now();
    for (let i = 0; i < 3; i++) {
      await enqueue(e.store, `MSH|adt${i}`, { dataModel: "PatientAdmin", eventType: "NewPatient" });
    }
    for (let i = 0; i < 2; i++) {
      await enqueue(e.store, `MSH|oru${i}`, { dataModel: "Results", eventType: "New" });
    }
    const ids = async (query: string): Promise<string[]> => {
      const r = await e.call(`/admin/logs${query}`);
      assert.equal(r.status, 200, JSON.stringify(r.json));
      return r.json.logs.map((l: LogRecord) => l.id);
    };
    const all = await e.call("/admin/logs");
    assert.equal(all.json.logs.length, 10);
    assert.equal(all.json.next, null);
    assert.equal((await ids("?type=SEND&status=PENDING")).length, 5);
    assert.equal((await ids("?type=receive&status=succeeded&integration=feed")).length, 5);
    assert.equal((await ids("?dataModel=Results")).length, 2);
    assert.equal((await ids("?eventType=NewPatient&destination=lab")).length, 3);
    assert.equal((await ids("?destination=elsewhere")).length, 0);
    const iso = new Date(start - 60_000).toISOString().replace("Z", "+00:00");
    assert.equal((await ids(`?since=${encodeURIComponent(iso)}`)).length, 10);
    assert.equal((await ids(`?since=${iso}`)).length, 10, "an unencoded + arrives as a space");
    assert.equal((await ids(`?since=2000-01-01&until=${Date.now() + 1000}`)).length, 10);
    assert.equal((await ids(`?since=${start + 3_600_000}`)).length, 0);
    assert.equal((await ids("?until=2001-01-01T00:00:00Z")).length, 0);

    const paged: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const r: Reply = await e.call(
        `/admin/logs?type=SEND&limit=2${cursor ? `&cursor=${cursor}` : ""}`,
      );
      assert.equal(r.status, 200);
      paged.push(...r.json.logs.map((l: LogRecord) => l.id));
      cursor = r.json.next;
      pages++;
    } while (cursor && pages < 10);
    assert.equal(paged.length, 5);
    assert.deepEqual(paged, [...paged].sort().reverse(), "newest first");
    assert.deepEqual(paged, await ids("?type=SEND"));

    const bad = async (query: string, pattern: RegExp) => {
      const r = await e.call(`/admin/logs${query}`);
      assert.equal(r.status, 400, query);
      assert.match(r.json.error, pattern);
    };
    await bad("?status=DONE", /^status: expected one of PENDING, SUCCEEDED, FAILED, FILTERED/);
    await bad("?type=PUSH", /^type: expected one of SEND, RECEIVE, REQUEST, RESPOND/);
    await bad("?limit=0", /^limit: expected an integer from 1 to 500/);
    await bad("?limit=501", /^limit: /);
    await bad("?limit=2.5", /^limit: /);
    await bad("?since=yesterday", /^since: expected an ISO 8601 date-time/);
    await bad("?until=2026-02-30", /^until: /);
    await bad("?since=2026-01-15T08:30:00", /^since: /);
    await bad("?since=2026-01-02&until=2026-01-01", /^since: must not be later than until/);
    await bad("?cursor=..%2F..", /^cursor: /);
    await bad("?statuss=FAILED", /^unknown parameter "statuss"; allowed: status, type/);
    await bad("?patien=P1", /^unknown parameter "patien"; allowed: .*, limit, patient$/);
    await bad("?status=FAILED&status=PENDING", /^status: given more than once/);
    await bad("?dataModel=", /^dataModel: /);
  });
});

Deno.test("admin shows a message with its text payload and logs, and its raw bytes on request", async () => {
  await withEngine(async (e) => {
    const text = "MSH|^~\\&|LAB|HOSP|||20260101||ORU^R01|C1|P|2.5\rPID|1||123^^^MRN\r";
    const { messageId, sendLogId } = await enqueue(e.store, text);
    const r = await e.call(`/admin/messages/${messageId}`);
    assert.equal(r.status, 200);
    assert.equal(r.json.id, messageId);
    assert.equal(r.json.encoding, "utf-8");
    assert.equal(r.json.payload, text);
    assert.equal(r.json.contentType, "application/hl7-v2");
    assert.equal(r.json.size, enc.encode(text).length);
    assert.match(r.json.receivedAt, ISO_UTC);
    for (const l of r.json.logs) assert.match(l.createdAt, ISO_UTC);
    assert.equal("inline" in r.json, false);
    assert.deepEqual(r.json.logs.map((l: LogRecord) => l.type).sort(), ["RECEIVE", "SEND"]);
    assert.ok(r.json.logs.some((l: LogRecord) => l.id === sendLogId));
    const raw = await e.call(`/admin/messages/${messageId}?raw=1`);
    assert.equal(raw.status, 200);
    assert.equal(raw.headers.get("content-type"), "application/hl7-v2");
    assert.equal(raw.headers.get("x-content-type-options"), "nosniff");
    assert.deepEqual(raw.bytes, enc.encode(text));
    assert.equal((await e.call(`/admin/messages/${messageId}?raw=yes`)).status, 400);
  });
});

Deno.test("admin shows a binary payload as base64 and a chunked one whole", async () => {
  await withEngine(async (e) => {
    const binary = new Uint8Array([0xff, 0x00, 0xfe, 0x80, 0x41]);
    const b = await enqueue(e.store, binary);
    const r = await e.call(`/admin/messages/${b.messageId}`);
    assert.equal(r.json.encoding, "base64");
    assert.equal(r.json.payload, "/wD+gEE=");
    assert.deepEqual((await e.call(`/admin/messages/${b.messageId}?raw=true`)).bytes, binary);

    const big = "OBX|1|TX|||" + "é".repeat(INLINE_MAX) + "\r";
    const c = await enqueue(e.store, big);
    const rb = await e.call(`/admin/messages/${c.messageId}`);
    assert.ok(rb.json.chunks > 0);
    assert.equal(rb.json.encoding, "utf-8");
    assert.equal(rb.json.payload, big);
  });
});

Deno.test({
  name: "admin pause holds for an actor that was not active yet",
  fn: async () => {
    const clock = new ManualClock();
    await withEngine(async (e) => {
      const r = await e.call(`/admin/actors/${DEST}/pause`, {
        method: "POST",
        body: JSON.stringify({ by: "alice", reason: "peer maintenance" }),
      });
      assert.equal(r.status, 200);
      await waitFor("paused", async () => (await statusOf(e)).state === "paused");
      const { sendLogId } = await enqueue(e.store, "MSH|while-paused");
      // The notify activates the actor: it reads its control from KV and parks, paused.
      await notifyAndWaitParked(e, clock);
      assert.equal((await statusOf(e)).state, "paused");
      assert.equal((await logOf(e, sendLogId)).status, "PENDING");
      assert.equal(e.deliverer.sent.length, 0);
    }, { clock });
  },
});

Deno.test("admin reprocesses a dead-lettered message: back at the end of its queue, delivered, once", async () => {
  await withEngine(async (e) => {
    e.deliverer.mode = "fail";
    const first = await enqueue(e.store, "MSH|fix-me");
    e.supervisor.notify(DEST);
    await waitFor("backoff", async () => (await statusOf(e)).state === "backoff");
    const skipped = await e.call(`/admin/actors/${DEST}/skip`, {
      method: "POST",
      body: JSON.stringify({ by: "bob", reason: "receiver rejects it until fixed" }),
    });
    assert.equal(skipped.status, 200);
    const reprocess = (id: string, body?: string) =>
      e.call(`/admin/logs/${id}/reprocess`, { method: "POST", body });
    assert.equal((await reprocess("0000nolog")).status, 404);
    assert.equal((await reprocess(first.sendLogId, "{oops")).status, 400);

    e.deliverer.mode = "ok";
    const triedBefore = e.deliverer.sent.length;
    const done = await reprocess(
      first.sendLogId,
      JSON.stringify({ by: "carol", reason: "receiver fixed" }),
    );
    assert.equal(done.status, 200, JSON.stringify(done.json));
    assert.equal(done.json.ok, true);
    assert.equal(done.json.log.status, "PENDING");
    assert.deepEqual(
      (await e.call(`/admin/actors/${DEST}/dead-letters`)).json.deadLetters,
      [],
    );
    const log = await waitFor("delivered again", async () => {
      const l = await logOf(e, first.sendLogId);
      return l.status === "SUCCEEDED" && l;
    });
    assert.equal(log.reprocessed?.by, "carol");
    assert.equal(log.reprocessed?.count, 1);
    assert.equal(log.deadLetter, undefined);
    assert.deepEqual(e.deliverer.sent.slice(triedBefore), [first.messageId]);
    // Delivered: nothing left to reprocess.
    const again = await reprocess(first.sendLogId);
    assert.equal(again.status, 409);
    assert.match(again.json.message, /SUCCEEDED, not in a dead-letter list/);
  });
});
