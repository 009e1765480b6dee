/**
 * Wall-clock steps (an NTP step, `date -s`) while an outbound MLLP actor runs: the ACK timeout,
 * the attempt's duration and the idle close are measured on the monotonic clock, so a step back
 * does not stretch them by its length and a step forward does not end them early. A ManualClock
 * whose wall time is stepped alone (`stepWall`) plays the step; real sockets, KV file.
 */

import assert from "node:assert/strict";
import { ManualClock } from "../../../actors/runtime/clock.ts";
import { waitFor } from "../../helpers/net.ts";
import { startOutbound } from "../../helpers/outbound.ts";
import { startReceiver } from "../../helpers/receivers.ts";

const HOUR = 3_600_000;

Deno.test("an ACK wait times out its timeout after the send though the wall clock stepped back an hour meanwhile", async () => {
  const clock = new ManualClock();
  const receiver = startReceiver(() => {}); // never answers
  const out = await startOutbound({ port: receiver.port, clock, ackTimeoutMs: 700 });
  try {
    await out.enqueue("BACK1");
    await waitFor(
      "BACK1 awaiting its ACK",
      async () => (await out.actor.status()).state === "awaiting-ack" && clock.pending === 1,
    );
    clock.stepWall(-HOUR);
    clock.advance(700);
    await waitFor("BACK1 timed out", async () => (await out.logOf("BACK1")).attemptCount === 1);
    const log = await out.logOf("BACK1");
    assert.equal(log.attempts[0]?.reason, "no ACK within 0.7 s; socket closed");
    assert.equal(log.attempts[0]?.durationMs, 700);
  } finally {
    await out.stop();
    await receiver.close();
  }
});

Deno.test("a forward wall-clock step while an ACK is awaited neither times it out nor counts in its duration", async () => {
  const clock = new ManualClock();
  const gates: (() => void)[] = [];
  const receiver = startReceiver(async (f) => {
    await new Promise<void>((release) => gates.push(release));
    await f.ack("AA");
  });
  const out = await startOutbound({ port: receiver.port, clock, ackTimeoutMs: 700 });
  try {
    await out.enqueue("FWD1", "FWD2");
    // FWD1 arms the watchdog to wake 700 ms after its send; FWD2 is sent 300 ms later.
    await waitFor("FWD1 waiting", () => gates.length === 1 && clock.pending === 1);
    const firstWake = clock.nextWake!;
    clock.advance(300);
    gates[0]!();
    await waitFor("FWD2 waiting", () => gates.length === 2);
    await waitFor(
      "FWD2 awaiting its ACK",
      async () => (await out.actor.status()).state === "awaiting-ack",
    );
    clock.stepWall(3 * HOUR);
    // The watchdog armed for FWD1 wakes: FWD2 has 300 ms left on the monotonic clock.
    clock.advance(firstWake - clock.monotonic());
    await waitFor("watchdog sleeps again", () => clock.pending === 1);
    assert.equal((await out.actor.status()).state, "awaiting-ack");
    gates[1]!();
    await waitFor("FWD2 delivered", async () => (await out.logOf("FWD2")).status === "SUCCEEDED");
    const log = await out.logOf("FWD2");
    assert.equal(log.attemptCount, 1);
    assert.equal(log.attempts[0]?.durationMs, 400);
    assert.deepEqual(out.lines("delivery.failed"), []);
    assert.equal(receiver.frames.length, 2, "nothing resent");
  } finally {
    await out.stop();
    await receiver.close();
  }
});

Deno.test("the 2-hour idle close counts monotonic time: a forward step does not close early, a step back does not keep the socket open", async () => {
  const clock = new ManualClock();
  const receiver = startReceiver((f) => f.ack("AA"));
  // With the manual clock the idle loop looks at the queue once per fake minute.
  const out = await startOutbound({ port: receiver.port, clock, pollMs: 60_000 });
  try {
    await out.enqueue("IDLE1");
    await waitFor("delivered", async () => (await out.logOf("IDLE1")).status === "SUCCEEDED");
    await waitFor("actor idle", async () => (await out.actor.status()).state === "idle");
    await waitFor("actor asleep", () => clock.pending === 1);

    clock.stepWall(3 * HOUR);
    clock.advance(60_000);
    // Woken, the loop looks at the idle socket before it sleeps again.
    await waitFor("the idle loop came around", () => clock.pending === 1);
    assert.equal((await out.actor.status()).socket, "open");
    assert.deepEqual(out.lines("mllp.idle-close"), []);

    clock.stepWall(-6 * HOUR);
    clock.advance(2 * HOUR);
    await waitFor("socket closed", async () => (await out.actor.status()).socket === "closed");
    await waitFor("the receiver saw the end", () => receiver.ended.length === 1);
    assert.equal(out.lines("mllp.idle-close").length, 1);
  } finally {
    await out.stop();
    await receiver.close();
  }
});
