/**
 * The outbound MLLP delivery actor against real receivers on loopback sockets: a third-party
 * `Hl7Server` and receivers that misbehave on purpose. Every actor here is a real `DeliveryActor`
 * with a real `MllpDeliverer` and the socket connector, on a KV file in a temp dir.
 */

import assert from "node:assert/strict";
import { Hl7Server } from "@medplum/hl7";
import { ManualClock } from "../../../actors/runtime/clock.ts";
import { freePort, startHl7Server, waitFor } from "../../helpers/net.ts";
import { startOutbound, waitForBackoff } from "../../helpers/outbound.ts";
import { controlIds, delay, startReceiver } from "../../helpers/receivers.ts";

/**
 * ACK timeout of the tests that expect every attempt to end on an answer or a closed socket,
 * never on the timeout: the helper's 500 ms of real time is thin for an ACK on a loaded machine
 * (one late ACK is one more attempt, and a count off by one).
 */
const ANSWERED_MS = 5000;

Deno.test("outbound actor delivers 50 messages to an Hl7Server in order, one in flight, on one connection", async () => {
  const received: string[] = [];
  let connections = 0;
  let unanswered = 0;
  let mostUnanswered = 0;
  const server = new Hl7Server((connection) => {
    connections++;
    connection.addEventListener("message", ({ message }) => {
      unanswered++;
      mostUnanswered = Math.max(mostUnanswered, unanswered);
      received.push(message.getSegment("MSH")?.getField(10)?.toString() ?? "?");
      // Answer a moment later, so a second message sent without waiting would be caught here.
      setTimeout(() => {
        unanswered--;
        connection.send(message.buildAck());
      }, 2);
    });
  });
  const port = await startHl7Server(server);
  const out = await startOutbound({ port, deferStart: true, ackTimeoutMs: ANSWERED_MS });
  try {
    const ids = Array.from({ length: 50 }, (_, i) => `FIFO${String(i).padStart(3, "0")}`);
    // Half queued before the actor starts (a backlog), half while it delivers.
    await out.enqueue(...ids.slice(0, 25));
    out.start();
    await out.enqueue(...ids.slice(25));
    await waitFor("50 messages received", () => received.length >= ids.length);
    await waitFor("the queue drained", async () => (await out.store.depth(out.actorId)) === 0);
    assert.deepEqual(received, ids);
    assert.equal(mostUnanswered, 1, "the receiver had two unanswered messages at once");
    assert.equal(connections, 1, "the socket was not kept open between messages");
    for (const id of ids) {
      const log = await out.logOf(id);
      assert.equal(log.status, "SUCCEEDED", id);
      assert.equal(log.attemptCount, 1, id);
      assert.equal(log.attempts[0]?.reason, "AA");
    }
    const status = await out.actor.status();
    assert.equal(status.socket, "open");
    assert.equal(status.queueDepth, 0);
  } finally {
    await out.stop();
    await server.stop({ forceDrainTimeoutMs: 100 });
  }
});

Deno.test("outbound actor takes a slow ACK that comes within the timeout as success", async () => {
  // The ACK waits until the test has moved the clock 300 ms (of a 700 ms timeout).
  const clock = new ManualClock();
  const gates: (() => void)[] = [];
  const receiver = startReceiver(async (f) => {
    await new Promise<void>((release) => gates.push(release));
    await f.ack("AA");
  });
  const out = await startOutbound({ port: receiver.port, clock, ackTimeoutMs: 700 });
  try {
    await out.enqueue("SLOW1", "SLOW2");
    for (let n = 1; n <= 2; n++) {
      // Waiting for the ACK: the frame is at the receiver and the timeout is armed on the clock
      // (one watchdog for both waits: armed by the first, it wakes before the second's deadline).
      await waitFor(`frame ${n} waiting`, () => gates.length === n && clock.pending === 1);
      assert.ok(clock.nextWake! <= clock.now() + 700, `wakes at +${clock.nextWake! - clock.now()}`);
      clock.advance(300);
      gates[n - 1]!();
    }
    await waitFor("both delivered", async () => (await out.logOf("SLOW2")).status === "SUCCEEDED");
    for (const id of ["SLOW1", "SLOW2"]) {
      const log = await out.logOf(id);
      assert.equal(log.status, "SUCCEEDED");
      assert.equal(log.attemptCount, 1);
      assert.equal(log.attempts[0]?.durationMs, 300);
    }
    assert.deepEqual(controlIds(receiver), ["SLOW1", "SLOW2"]);
    assert.equal(receiver.accepted, 1);
    assert.deepEqual(out.lines("delivery.failed"), []);
  } finally {
    await out.stop();
    await receiver.close();
  }
});

Deno.test("an ACK wait times out exactly its timeout after its own send, though an earlier wait armed the timer", async () => {
  const clock = new ManualClock();
  const gates: (() => void)[] = [];
  const receiver = startReceiver(async (f) => {
    if (f.controlId !== "EARLY1") return; // LATE2 is never answered
    await new Promise<void>((release) => gates.push(release));
    await f.ack("AA");
  });
  const out = await startOutbound({ port: receiver.port, clock, ackTimeoutMs: 700 });
  try {
    await out.enqueue("EARLY1", "LATE2");
    await waitFor("EARLY1 waiting", () => gates.length === 1 && clock.pending === 1);
    const firstWake = clock.nextWake!;
    clock.advance(300);
    gates[0]!();
    await waitFor("LATE2 sent", () => receiver.frames.length === 2);
    const sentAt = clock.now();
    await waitFor(
      "LATE2 awaiting its ACK",
      async () => (await out.actor.status()).state === "awaiting-ack",
    );
    // The watchdog armed for EARLY1 wakes first: LATE2 has time left, so it sleeps again.
    assert.equal(firstWake, sentAt - 300 + 700);
    clock.advance(firstWake - clock.now());
    await waitFor("watchdog sleeps again", () => clock.nextWake === sentAt + 700);
    clock.advance(699 - (clock.now() - sentAt));
    assert.equal((await out.logOf("LATE2")).attemptCount, 0);
    assert.equal((await out.actor.status()).state, "awaiting-ack");
    clock.advance(1);
    await waitFor("LATE2 timed out", async () => (await out.logOf("LATE2")).attemptCount === 1);
    const log = await out.logOf("LATE2");
    assert.equal(log.attempts[0]?.reason, "no ACK within 0.7 s; socket closed");
    assert.equal(log.attempts[0]?.durationMs, 700);
    assert.equal((await out.logOf("EARLY1")).status, "SUCCEEDED");
  } finally {
    await out.stop();
    await receiver.close();
  }
});

Deno.test("outbound actor retries after a NACK (AE) and logs a FAILED attempt then SUCCEEDED", async () => {
  const receiver = startReceiver((f) =>
    f.n === 1 ? f.ack("AE", { text: "database busy" }) : f.ack("AA")
  );
  const out = await startOutbound({ port: receiver.port, ackTimeoutMs: ANSWERED_MS });
  try {
    await out.enqueue("NACK1");
    await waitFor("delivered", async () => (await out.logOf("NACK1")).status === "SUCCEEDED");
    const log = await out.logOf("NACK1");
    assert.equal(log.attemptCount, 2);
    assert.deepEqual(log.attempts.map((a) => [a.n, a.outcome]), [[1, "FAILED"], [2, "SUCCEEDED"]]);
    assert.match(log.attempts[0]?.reason ?? "", /^AE: .*database busy/);
    assert.equal(log.attempts[1]?.reason, "AA");
    assert.deepEqual(controlIds(receiver), ["NACK1", "NACK1"]);
    // A NACK is an answer: the connection stays usable for the resend.
    assert.deepEqual(receiver.frames.map((f) => f.connection), [1, 1]);
    assert.equal(out.lines("delivery.failed").length, 1);
    // The line names the log and the sender's control id, what an operator greps for.
    assert.match(out.lines("delivery.failed")[0]!, new RegExp(` logId=${log.id} `));
    assert.match(out.lines("delivery.failed")[0]!, / controlId=NACK1 /);
  } finally {
    await out.stop();
    await receiver.close();
  }
});

Deno.test("a NACK's reason carries the peer's error code (ERR-3.1) after its text: AE: … (error 204)", async () => {
  const receiver = startReceiver((f) =>
    f.n === 1
      ? f.send(
        `MSH|^~\\&|EMPI||ENGINE||20260101000000||ACK|R${f.n}|P|2.5\rMSA|AE|${f.controlId}\r` +
          "ERR|||204^Unknown key identifier^HL70357|E||||Patient MRN 12345 not found in EMPI",
      )
      : f.ack("AA")
  );
  const out = await startOutbound({ port: receiver.port, ackTimeoutMs: ANSWERED_MS });
  try {
    await out.enqueue("ERRCODE1");
    await waitFor("delivered", async () => (await out.logOf("ERRCODE1")).status === "SUCCEEDED");
    const log = await out.logOf("ERRCODE1");
    assert.equal(log.attempts[0]?.reason, "AE: Patient MRN 12345 not found in EMPI (error 204)");
  } finally {
    await out.stop();
    await receiver.close();
  }
});

Deno.test("outbound actor ignores an ACK whose MSA-2 names another message", async () => {
  const receiver = startReceiver(async (f) => {
    if (f.n === 1) {
      // An AA for some other message, then this message's own verdict: AE.
      await f.ack("AA", { msa2: "SOMEONE-ELSE" });
      await f.ack("AE", { text: "rejected" });
    } else await f.ack("AA");
  });
  const out = await startOutbound({ port: receiver.port, ackTimeoutMs: ANSWERED_MS });
  try {
    await out.enqueue("CORR1");
    await waitFor("delivered", async () => (await out.logOf("CORR1")).status === "SUCCEEDED");
    const log = await out.logOf("CORR1");
    // Had the stray AA been taken, the first attempt would have SUCCEEDED.
    assert.deepEqual(log.attempts.map((a) => a.outcome), ["FAILED", "SUCCEEDED"]);
    assert.match(log.attempts[0]?.reason ?? "", /^AE/);
    const stray = out.lines("mllp.uncorrelated-reply");
    assert.equal(stray.length, 1, stray.join("\n"));
    assert.match(stray[0]!, /expected=CORR1/);
    assert.match(stray[0]!, /SOMEONE-ELSE/);
  } finally {
    await out.stop();
    await receiver.close();
  }
});

Deno.test("outbound actor reconnects and resends after the receiver drops the connection mid-message", async () => {
  const receiver = startReceiver((f) => f.ack("AA"), { cutMidFrame: (c) => c === 1 });
  const out = await startOutbound({ port: receiver.port, ackTimeoutMs: ANSWERED_MS });
  try {
    await out.enqueue("DROP1", "DROP2");
    // Both: the actor commits completions side by side, so DROP2's can land before DROP1's (seen
    // once over the socket thread with CPU hogs beside the test).
    await waitFor("delivered", async () => {
      const logs = await Promise.all(["DROP1", "DROP2"].map((id) => out.logOf(id)));
      return logs.every((l) => l.status === "SUCCEEDED");
    });
    const log = await out.logOf("DROP1");
    assert.deepEqual(log.attempts.map((a) => a.outcome), ["FAILED", "SUCCEEDED"]);
    assert.match(log.attempts[0]?.reason ?? "", /^(connection closed before the ACK|send failed)/);
    assert.equal(receiver.accepted, 2);
    assert.deepEqual(receiver.ended[0], { connection: 1, by: "receiver" });
    // Only the second connection carried whole frames: the resend and then the next message.
    assert.deepEqual(receiver.frames.map((f) => [f.controlId, f.connection]), [
      ["DROP1", 2],
      ["DROP2", 2],
    ]);
    assert.equal((await out.logOf("DROP2")).attemptCount, 1);
  } finally {
    await out.stop();
    await receiver.close();
  }
});

Deno.test("outbound actor resends the head on a new connection after an ACK timeout", async () => {
  let endedBeforeResend: number[] | undefined;
  const receiver = startReceiver(async (f) => {
    if (f.connection === 1) return; // never answers on the first connection
    endedBeforeResend ??= receiver.ended.map((e) => e.connection);
    await f.ack("AA");
  });
  // 2 s, not 0.3: the resend on the second connection must be answered within it, on a loaded
  // machine too; the first connection's silence still fails at it.
  const out = await startOutbound({ port: receiver.port, ackTimeoutMs: 2000 });
  try {
    await out.enqueue("SILENT1");
    await waitFor("delivered", async () => (await out.logOf("SILENT1")).status === "SUCCEEDED");
    const log = await out.logOf("SILENT1");
    assert.deepEqual(log.attempts.map((a) => a.outcome), ["FAILED", "SUCCEEDED"]);
    assert.equal(log.attempts[0]?.reason, "no ACK within 2 s; socket closed");
    assert.ok(
      (log.attempts[0]?.durationMs ?? 0) >= 1980,
      `waited ${log.attempts[0]?.durationMs} ms`,
    );
    assert.deepEqual(receiver.frames.map((f) => [f.controlId, f.connection]), [
      ["SILENT1", 1],
      ["SILENT1", 2],
    ]);
    // The engine closed the silent connection itself, before resending on the new one.
    assert.deepEqual(receiver.ended[0], { connection: 1, by: "peer" });
    assert.deepEqual(endedBeforeResend, [1]);
  } finally {
    await out.stop();
    await receiver.close();
  }
});

Deno.test("outbound actor records refused connections and delivers once the receiver listens", async () => {
  // Chosen ahead, not 0: refused at first, so nothing may listen before the receiver starts.
  const port = freePort();
  const clock = new ManualClock();
  const out = await startOutbound({ port, clock });
  let receiver: ReturnType<typeof startReceiver> | undefined;
  try {
    await out.enqueue("REF1", "REF2");
    assert.equal(await waitForBackoff(out, clock, "REF1", 1), 0);
    clock.advance(0); // the first retry is immediate
    assert.equal(await waitForBackoff(out, clock, "REF1", 2), 10_000);
    const log = await out.logOf("REF1");
    for (const a of log.attempts) {
      assert.equal(a.outcome, "FAILED");
      assert.ok(
        a.reason?.startsWith(`connect to 127.0.0.1:${port} failed: `),
        `unexpected reason ${a.reason}`,
      );
      assert.match(a.reason ?? "", /refused/i);
    }
    const status = await out.actor.status();
    assert.match(status.lastError ?? "", /refused/i);
    assert.equal(status.socket, "closed");
    assert.equal(status.queueDepth, 2);
    assert.equal((await out.logOf("REF2")).attemptCount, 0, "the second message jumped the queue");

    receiver = startReceiver((f) => f.ack("AA"), { port });
    clock.advance(10_000);
    await waitFor("both delivered", async () => (await out.logOf("REF2")).status === "SUCCEEDED");
    assert.deepEqual(controlIds(receiver), ["REF1", "REF2"]);
    assert.deepEqual(
      (await out.logOf("REF1")).attempts.map((a) => a.outcome),
      ["FAILED", "FAILED", "SUCCEEDED"],
    );
  } finally {
    await out.stop();
    await receiver?.close();
  }
});

Deno.test('onNack "dead-letter" moves a rejected head to the dead-letter list and goes on', async () => {
  const receiver = startReceiver((f) =>
    f.controlId === "REJ1" ? f.ack("AR", { text: "unknown patient" }) : f.ack("AA")
  );
  const out = await startOutbound({
    port: receiver.port,
    onNack: "dead-letter",
    ackTimeoutMs: ANSWERED_MS,
  });
  try {
    await out.enqueue("REJ1", "NEXT2");
    await waitFor("next delivered", async () => (await out.logOf("NEXT2")).status === "SUCCEEDED");
    assert.deepEqual(controlIds(receiver), ["REJ1", "NEXT2"]);
    const rejected = await out.logOf("REJ1");
    assert.equal(rejected.status, "FAILED");
    assert.equal(rejected.attemptCount, 1);
    assert.equal(rejected.attempts[0]?.outcome, "FAILED");
    assert.match(rejected.attempts[0]?.reason ?? "", /^AR: .*unknown patient/);
    assert.equal(rejected.deadLetter?.by, "policy:dead-letter");
    const dead = await out.store.deadLetters(out.actorId);
    assert.equal(dead.length, 1);
    assert.equal(dead[0]?.messageId, out.messageIdOf("REJ1"));
    assert.equal(dead[0]?.by, "policy:dead-letter");
    assert.match(dead[0]?.reason ?? "", /^AR/);
    assert.equal(await out.store.depth(out.actorId), 0);
    assert.equal(out.lines("delivery.dead-lettered").length, 1);
  } finally {
    await out.stop();
    await receiver.close();
  }
});

Deno.test("outbound actor keeps an idle socket open under 2 h and closes it past 2 h", async () => {
  const clock = new ManualClock();
  const receiver = startReceiver((f) => f.ack("AA"));
  // With the manual clock the idle loop looks at the queue once per fake minute.
  const out = await startOutbound({ port: receiver.port, clock, pollMs: 60_000 });
  try {
    await out.enqueue("IDLE1");
    await waitFor("delivered", async () => (await out.logOf("IDLE1")).status === "SUCCEEDED");
    await waitFor("actor idle", async () => (await out.actor.status()).state === "idle");
    await waitFor("actor asleep", () => clock.pending === 1);

    clock.advance(2 * 3600_000 - 60_000); // 1 h 59 min without traffic
    await waitFor("the idle loop came around", () => clock.pending === 1);
    await delay(30);
    assert.equal((await out.actor.status()).socket, "open");
    assert.equal(receiver.open, 1);
    assert.deepEqual(receiver.ended, []);
    assert.deepEqual(out.lines("mllp.idle-close"), []);

    clock.advance(2 * 60_000); // 2 h 1 min
    await waitFor("socket closed", async () => (await out.actor.status()).socket === "closed");
    await waitFor("the receiver saw the end", () => receiver.ended.length === 1);
    assert.deepEqual(receiver.ended, [{ connection: 1, by: "peer" }]);
    assert.equal(out.lines("mllp.idle-close").length, 1);

    // The next message opens a fresh connection.
    await out.enqueue("IDLE2");
    await waitFor("delivered", async () => (await out.logOf("IDLE2")).status === "SUCCEEDED");
    assert.deepEqual(receiver.frames.map((f) => [f.controlId, f.connection]), [
      ["IDLE1", 1],
      ["IDLE2", 2],
    ]);
  } finally {
    await out.stop();
    await receiver.close();
  }
});

Deno.test("outbound actor has every delivered message completed in KV before it records a later failure", async () => {
  // The sixth message is rejected once. Its resend comes only after its FAILED attempt is in the
  // log, and by then the five before it (one batch, completed in the background while the next
  // was sent) must be durable too.
  // Filled in once the actor exists; the receiver reads KV through it.
  const ref: { out?: Awaited<ReturnType<typeof startOutbound>> } = {};
  let seenAtResend: { statuses: string[]; sixth: string[]; depth: number } | undefined;
  const receiver = startReceiver(async (f) => {
    const out = ref.out;
    if (f.controlId === "BATCH6" && f.n === 7 && out) {
      const statuses = [];
      for (const id of ["BATCH1", "BATCH2", "BATCH3", "BATCH4", "BATCH5"]) {
        statuses.push((await out.logOf(id)).status);
      }
      const sixth = (await out.logOf("BATCH6")).attempts.map((a) => a.outcome);
      seenAtResend = { statuses, sixth, depth: await out.store.depth(out.actorId) };
    }
    await f.ack(f.controlId === "BATCH6" && f.n === 6 ? "AE" : "AA");
  });
  const out = ref.out = await startOutbound({
    port: receiver.port,
    deferStart: true,
    ackTimeoutMs: ANSWERED_MS,
  });
  try {
    const ids = Array.from({ length: 8 }, (_, i) => `BATCH${i + 1}`);
    await out.enqueue(...ids);
    out.start();
    await waitFor("all delivered", async () => (await out.store.depth(out.actorId)) === 0);
    assert.deepEqual(controlIds(receiver), [...ids.slice(0, 6), ...ids.slice(5)]);
    assert.deepEqual(seenAtResend, {
      statuses: ["SUCCEEDED", "SUCCEEDED", "SUCCEEDED", "SUCCEEDED", "SUCCEEDED"],
      sixth: ["FAILED"],
      depth: 3,
    });
  } finally {
    await out.stop();
    await receiver.close();
  }
});
