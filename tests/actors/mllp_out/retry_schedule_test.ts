/**
 * The outbound actor's retry schedule and operator commands, driven by a ManualClock against real
 * receivers on loopback sockets. "Nothing was sent yet" is asserted only while the actor is parked
 * on the clock (its one sleep pending, due later), never after a fixed wait.
 */

import assert from "node:assert/strict";
import { ManualClock } from "../../../actors/runtime/clock.ts";
import { waitFor } from "../../helpers/net.ts";
import { startOutbound, waitForBackoff } from "../../helpers/outbound.ts";
import { controlIds, startReceiver } from "../../helpers/receivers.ts";

Deno.test("outbound actor retries on the schedule 0, 10, 10, 20, 30, 50, 80, 120, 120 s", async () => {
  const clock = new ManualClock();
  const receiver = startReceiver((f) => f.ack("AE", { text: "not now" }));
  const out = await startOutbound({ port: receiver.port, clock });
  try {
    await out.enqueue("SCHED1", "SCHED2");
    const expected = [0, 10, 10, 20, 30, 50, 80, 120, 120].map((s) => s * 1000);
    const seen: number[] = [];
    for (let failures = 1; failures <= expected.length; failures++) {
      const waitMs = await waitForBackoff(out, clock, "SCHED1", failures);
      seen.push(waitMs);
      assert.equal(waitMs, expected[failures - 1], `after failure ${failures}: ${seen}`);
      const status = await out.actor.status();
      assert.equal(status.inFlight?.attempts, failures);
      assert.match(status.lastError ?? "", /^AE: .*not now/);
      if (waitMs > 0) {
        // One millisecond short of the retry: still parked on the same wake-up, so nothing sent.
        const due = clock.nextWake;
        clock.advance(waitMs - 1);
        assert.equal(clock.pending, 1, `woke early after failure ${failures}`);
        assert.equal(clock.nextWake, due);
        assert.equal(receiver.frames.length, failures, `retried early after failure ${failures}`);
        assert.equal((await out.actor.status()).state, "backoff");
        clock.advance(1);
      } else clock.advance(0);
      await waitFor(`attempt ${failures + 1}`, () => receiver.frames.length === failures + 1);
    }
    assert.deepEqual(seen, expected);
    // The head is retried, never the message behind it.
    assert.ok(controlIds(receiver).every((id) => id === "SCHED1"));
    assert.equal((await out.logOf("SCHED2")).attemptCount, 0);
    // A NACK leaves the socket usable: every attempt went over the one connection.
    assert.equal(receiver.accepted, 1);
  } finally {
    await out.stop();
    await receiver.close();
  }
});

Deno.test("operator retry cuts a backoff short and the schedule goes on after it", async () => {
  const clock = new ManualClock();
  const receiver = startReceiver((f) => f.ack("AE"));
  const out = await startOutbound({ port: receiver.port, clock });
  try {
    const early = await out.actor.command("retry", "ops", "nothing waits");
    assert.equal(early.ok, false);
    await out.enqueue("RETRY1");
    assert.equal(await waitForBackoff(out, clock, "RETRY1", 1), 0);
    clock.advance(0);
    assert.equal(await waitForBackoff(out, clock, "RETRY1", 2), 10_000);

    const result = await out.actor.command("retry", "ops", "receiver is back");
    assert.equal(result.ok, true, result.message);
    // Without moving the clock, the head goes out again at once.
    await waitFor("the retry", () => receiver.frames.length >= 3);
    // ... and its failure waits for the third slot of the schedule, not less: parked again, with
    // no fourth attempt.
    assert.equal(await waitForBackoff(out, clock, "RETRY1", 3), 10_000);
    assert.equal(receiver.frames.length, 3, "a retry now also cut the next backoff short");
    clock.advance(10_000);
    assert.equal(await waitForBackoff(out, clock, "RETRY1", 4), 20_000);
  } finally {
    await out.stop();
    await receiver.close();
  }
});

Deno.test("operator pause stops delivery and resume continues it", async () => {
  const clock = new ManualClock();
  const receiver = startReceiver((f) => f.ack("AA"));
  const out = await startOutbound({ port: receiver.port, clock });
  try {
    const paused = await out.actor.command("pause", "ops", "receiver maintenance");
    assert.equal(paused.ok, true);
    await waitFor("paused", async () => (await out.actor.status()).state === "paused");
    await out.enqueue("PAUSE1", "PAUSE2");
    // Several polls of the paused actor: each wake-up finds it paused and parks it again.
    for (let poll = 0; poll < 3; poll++) {
      await waitFor("parked", () => clock.pending === 1);
      const due = clock.nextWake!;
      clock.advance(due - clock.now());
      await waitFor("parked again", () => clock.pending === 1 && clock.nextWake! > due);
    }
    assert.deepEqual(controlIds(receiver), []);
    const status = await out.actor.status();
    assert.equal(status.state, "paused");
    assert.equal(status.queueDepth, 2);
    assert.equal(status.paused?.by, "ops");
    assert.equal(status.paused?.reason, "receiver maintenance");
    assert.equal((await out.store.getControl(out.actorId)).paused, true, "pause not kept in KV");

    const resumed = await out.actor.command("resume", "ops", "maintenance over");
    assert.equal(resumed.ok, true);
    await waitFor("delivered", async () => (await out.logOf("PAUSE2")).status === "SUCCEEDED");
    assert.deepEqual(controlIds(receiver), ["PAUSE1", "PAUSE2"]);
    const after = await out.actor.status();
    assert.equal(after.paused, undefined);
    assert.equal((await out.store.getControl(out.actorId)).paused, false);
  } finally {
    await out.stop();
    await receiver.close();
  }
});

Deno.test("pause during a backoff holds the retry until resume; the next failure waits its turn", async () => {
  const clock = new ManualClock();
  const receiver = startReceiver((f) => f.ack("AE"));
  const out = await startOutbound({ port: receiver.port, clock });
  try {
    await out.enqueue("HOLD1");
    assert.equal(await waitForBackoff(out, clock, "HOLD1", 1), 0);
    clock.advance(0);
    assert.equal(await waitForBackoff(out, clock, "HOLD1", 2), 10_000);

    assert.equal((await out.actor.command("pause", "ops", "hold")).ok, true);
    clock.advance(10_000); // the backoff ends while paused
    await waitFor("paused", async () => (await out.actor.status()).state === "paused");
    // An hour later the paused actor has only looked at its control and parked again.
    const hourLater = clock.now() + 3600_000;
    clock.advance(3600_000);
    await waitFor("parked while paused", () => clock.pending === 1 && clock.nextWake! > hourLater);
    assert.equal(receiver.frames.length, 2, "sent while paused");
    assert.equal((await out.actor.status()).state, "paused");

    assert.equal((await out.actor.command("resume", "ops", "go")).ok, true);
    await waitFor("the retry after resume", () => receiver.frames.length >= 3);
    assert.equal(await waitForBackoff(out, clock, "HOLD1", 3), 10_000);
    assert.equal(receiver.frames.length, 3, "the resume also cut the next backoff short");
  } finally {
    await out.stop();
    await receiver.close();
  }
});

Deno.test("operator skip moves the head to the dead-letter list with who and why", async () => {
  const clock = new ManualClock();
  const receiver = startReceiver((f) => f.controlId === "SKIP1" ? f.ack("AE") : f.ack("AA"));
  const out = await startOutbound({ port: receiver.port, clock });
  try {
    const empty = await out.actor.command("skip", "ops", "nothing there");
    assert.equal(empty.ok, false);
    await out.enqueue("SKIP1", "SKIP2");
    assert.equal(await waitForBackoff(out, clock, "SKIP1", 1), 0);
    clock.advance(0);
    assert.equal(await waitForBackoff(out, clock, "SKIP1", 2), 10_000);

    const result = await out.actor.command("skip", "alice", "receiver rejects this patient");
    assert.equal(result.ok, true, result.message);
    assert.match(result.message, new RegExp(out.messageIdOf("SKIP1")));
    // The next message goes out without waiting out the skipped one's backoff.
    await waitFor("next delivered", async () => (await out.logOf("SKIP2")).status === "SUCCEEDED");
    assert.deepEqual(controlIds(receiver), ["SKIP1", "SKIP1", "SKIP2"]);
    const dead = await out.store.deadLetters(out.actorId);
    assert.equal(dead.length, 1);
    assert.equal(dead[0]?.messageId, out.messageIdOf("SKIP1"));
    assert.equal(dead[0]?.by, "alice");
    assert.equal(dead[0]?.reason, "receiver rejects this patient");
    const log = await out.logOf("SKIP1");
    assert.equal(log.status, "FAILED");
    assert.equal(log.attemptCount, 2);
    assert.equal(log.deadLetter?.by, "alice");
    assert.equal(log.deadLetter?.reason, "receiver rejects this patient");
    assert.equal(await out.store.depth(out.actorId), 0);
  } finally {
    await out.stop();
    await receiver.close();
  }
});

Deno.test("operator skip of the message in flight drops its ACK wait and goes on over a new connection", async () => {
  const clock = new ManualClock();
  const receiver = startReceiver((f) => f.controlId === "STUCK1" ? undefined : f.ack("AA"));
  const out = await startOutbound({ port: receiver.port, clock, ackTimeoutMs: 30_000 });
  try {
    await out.enqueue("STUCK1", "AFTER2");
    await waitFor("awaiting the ACK", async () => {
      const s = await out.actor.status();
      return s.state === "awaiting-ack" && s.inFlight?.messageId === out.messageIdOf("STUCK1");
    });
    const result = await out.actor.command("skip", "bob", "receiver lost it");
    assert.equal(result.ok, true, result.message);
    await waitFor("next delivered", async () => (await out.logOf("AFTER2")).status === "SUCCEEDED");
    assert.deepEqual(receiver.frames.map((f) => [f.controlId, f.connection]), [
      ["STUCK1", 1],
      ["AFTER2", 2],
    ]);
    assert.deepEqual(receiver.ended[0], { connection: 1, by: "peer" });
    const log = await out.logOf("STUCK1");
    assert.equal(log.status, "FAILED");
    assert.equal(log.deadLetter?.by, "bob");
    assert.equal((await out.store.deadLetters(out.actorId))[0]?.reason, "receiver lost it");
    // The cut-short attempt is on the log: the receiver may have the message.
    assert.match(log.attempts.at(-1)?.reason ?? "", /skipped by an operator during the attempt/);
  } finally {
    await out.stop();
    await receiver.close();
  }
});
