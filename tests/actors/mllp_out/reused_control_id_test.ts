/**
 * Different messages under one MSH-10 (a sender that reuses MSH-10, or sends a fixed one) to one
 * MLLP destination. A reply names the message it answers only by MSA-2, and a destination may
 * answer a message twice (an accept ACK, then an application ACK) or late: a reply still due to
 * the first must never be taken as the ACK of the next under the same MSH-10. Such a message goes
 * out on a fresh connection, by the actor (the socket thread never sends it on its own). Real
 * receivers on loopback, a real delivery actor and store (see `tests/helpers/outbound.ts`), over
 * both connectors.
 */

import assert from "node:assert/strict";
import { waitFor } from "../../helpers/net.ts";
import { type FrameContext, type RawReceiver, startReceiver } from "../../helpers/receivers.ts";
import { startOutbound } from "../../helpers/outbound.ts";

/** An ADT^A01 under MSH-10 `controlId` about patient `MRN<n>`. */
function adtFor(controlId: string, n: number): string {
  return [
    `MSH|^~\\&|SND|FAC|RCV|RF|20260101120000||ADT^A01^ADT_A01|${controlId}|P|2.5`,
    "EVN|A01|20260101120000",
    `PID|1||MRN${n}^^^HOSP^MR||Patient^N${n}`,
    "PV1|1|I",
  ].join("\r");
}

/** The `MRN<n>` of a frame the receiver got. */
function mrnOf(f: { message: { get(path: string): string | undefined } }): string {
  return (f.message.get("PID-3") ?? "").split("^")[0]!;
}

/**
 * Resolves once the receiver got a frame after `f` (on any connection), or `f`'s connection
 * ended: the moment a destination's late second reply to `f` would be read as the ACK of the
 * message after it, were that message sent on the same connection.
 */
function nextFrameOrEnd(receiver: RawReceiver, f: FrameContext): Promise<void> {
  return waitFor(
    `a frame after frame ${f.n}, or the end of its connection`,
    () => receiver.frames.length > f.n || receiver.ended.some((e) => e.connection === f.connection),
    10_000,
  );
}

/** Writes a second reply to `f`; its connection may be closed by then (nothing to answer). */
async function lateAck(f: FrameContext): Promise<void> {
  try {
    await f.ack("AA");
  } catch {
    // The engine closed that connection before it: the reply goes nowhere, as it should.
  }
}

for (const threaded of [false, true]) {
  const over = threaded
    ? "the socket thread's connection (send-ahead)"
    : "a socket on the engine's thread";
  for (const onNack of ["retry", "dead-letter"] as const) {
    Deno.test(`a late second AA to a message is not taken as the ACK of the next under the same MSH-10: its AE is heard (onNack ${onNack}), over ${over}`, async () => {
      let lateWritten!: () => void;
      const late = new Promise<void>((resolve) => (lateWritten = resolve));
      const receiver: RawReceiver = startReceiver(async (f) => {
        if (mrnOf(f) === "MRN1") {
          // An accept ACK at once, then another AA once the next message could be on the wire.
          await f.ack("AA");
          await nextFrameOrEnd(receiver, f);
          await lateAck(f);
          lateWritten();
        } else if (f.n === 2) {
          // The destination rejects the second message, after its late reply to the first.
          await late;
          await f.ack("AE", { text: "second rejected" });
        } else await f.ack("AA");
      });
      // Both queued before the actor starts: the first goes with the second listed behind it.
      const out = await startOutbound({
        port: receiver.port,
        threaded,
        onNack,
        ackTimeoutMs: 5_000,
        deferStart: true,
      });
      try {
        await out.enqueueMessage("FIRST", { controlId: "R1", payload: adtFor("R1", 1) });
        await out.enqueueMessage("SECOND", { controlId: "R1", payload: adtFor("R1", 2) });
        out.start();
        await waitFor("the second message settled", async () => {
          const log = await out.logOf("SECOND");
          return log.status === "SUCCEEDED" || log.deadLetter !== undefined;
        });
        const first = await out.logOf("FIRST");
        assert.equal(first.status, "SUCCEEDED");
        assert.equal(first.attemptCount, 1);
        const second = await out.logOf("SECOND");
        assert.equal(second.attempts[0]?.outcome, "FAILED", "taken as delivered on the first's AA");
        assert.match(second.attempts[0]?.reason ?? "", /^AE: .*second rejected/);
        if (onNack === "retry") {
          assert.equal(second.status, "SUCCEEDED");
          assert.equal(second.attemptCount, 2);
          assert.deepEqual(receiver.frames.map(mrnOf), ["MRN1", "MRN2", "MRN2"]);
        } else {
          assert.equal(second.status, "FAILED");
          assert.equal(second.attemptCount, 1);
          assert.equal(second.deadLetter?.by, "policy:dead-letter");
          assert.deepEqual(receiver.frames.map(mrnOf), ["MRN1", "MRN2"]);
        }
        // The second went on a connection of its own, by the actor; the retry stayed on it.
        assert.equal(receiver.frames[0]!.connection, 1);
        assert.ok(receiver.frames.slice(1).every((f) => f.connection === 2));
        assert.deepEqual(out.sentAhead(), [], "the socket thread sent the second on its own");
        const told = out.lines("mllp.reconnect-reused-control-id");
        assert.equal(told.length, 1, told.join("\n"));
        assert.match(
          told[0]!,
          /^\S+ INFO +mllp\.reconnect-reused-control-id .*destination=ehr controlId=R1 /,
        );
      } finally {
        await out.stop();
        await receiver.close();
      }
    });
  }

  Deno.test(`messages under one fixed MSH-10, each answered twice, are delivered in order and once each, none on a connection where a reply to an earlier one is still due, over ${over}`, async () => {
    const N = 12;
    /** Frames that arrived on a connection on which the receiver still owed a reply. */
    const overlapped: number[] = [];
    const receiver: RawReceiver = startReceiver(async (f) => {
      await f.ack("AA");
      // The second reply (an application ACK) is held until the next message was sent, unless
      // this is the last message (nothing comes after it).
      if (mrnOf(f) !== `MRN${N}`) {
        await nextFrameOrEnd(receiver, f);
        const next = receiver.frames[f.n];
        if (next && next.connection === f.connection) overlapped.push(next.n);
      }
      await lateAck(f);
    });
    const out = await startOutbound({
      port: receiver.port,
      threaded,
      ackTimeoutMs: 5_000,
      deferStart: true,
    });
    try {
      for (let n = 1; n <= N; n++) {
        await out.enqueueMessage(`M${n}`, { controlId: "FIXED", payload: adtFor("FIXED", n) });
      }
      out.start();
      await waitFor("every message delivered", async () => {
        for (let n = 1; n <= N; n++) {
          if ((await out.logOf(`M${n}`)).status !== "SUCCEEDED") return false;
        }
        return true;
      });
      const expected = Array.from({ length: N }, (_, i) => `MRN${i + 1}`);
      assert.deepEqual(receiver.frames.map(mrnOf), expected, "in order, once each");
      assert.deepEqual(overlapped, [], "sent where a reply to an earlier one was still due");
      for (let n = 1; n <= N; n++) assert.equal((await out.logOf(`M${n}`)).attemptCount, 1);
      // A connection each, by the actor, and the reconnect told once a message.
      assert.deepEqual(
        receiver.frames.map((f) => f.connection),
        Array.from({ length: N }, (_, i) => i + 1),
      );
      assert.deepEqual(out.sentAhead(), []);
      assert.equal(out.lines("mllp.reconnect-reused-control-id").length, N - 1);
    } finally {
      await out.stop();
      await receiver.close();
    }
  });
}
