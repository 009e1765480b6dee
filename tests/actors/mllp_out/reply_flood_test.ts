/**
 * An MLLP destination that floods its connection with replies nobody asked for (after each ACK,
 * or while nothing is awaited): the engine ends that connection after a few, says why, and
 * delivers every message; it neither reads and holds every frame the peer writes nor logs each.
 * A real receiver on loopback; both socket connectors.
 */

import assert from "node:assert/strict";
import { waitFor } from "../../helpers/net.ts";
import { startOutbound } from "../../helpers/outbound.ts";
import { type FrameContext, startReceiver } from "../../helpers/receivers.ts";

/** Stray replies the flooding peer tries to write while nothing is awaited. */
const FLOOD = 100_000;

/** An ACK frame that acknowledges no message the engine sent. */
const stray = (i: number) =>
  `MSH|^~\\&|EHR|HOSP|ENGINE|HOSP|20240101000000||ACK^A01|S${i}|P|2.5.1\rMSA|AA|junk${i}`;

/** After its ACK, writes `count` stray replies (fewer if the engine closes the connection). */
async function ackThenFlood(frame: FrameContext, count: number): Promise<number> {
  await frame.ack("AA");
  let written = 0;
  try {
    for (; written < count; written++) await frame.send(stray(written));
  } catch { /* the engine closed the connection */ }
  return written;
}

for (const threaded of [false, true]) {
  const where = threaded ? "socket thread" : "engine's thread";

  Deno.test(`a destination flooding replies after an ACK has its connection closed after a few, and every message is delivered (${where})`, async () => {
    // The first connection floods after its first message; the later ones behave.
    const receiver = startReceiver(async (frame) => {
      if (frame.connection === 1 && frame.n === 1) await ackThenFlood(frame, 500);
      else await frame.ack("AA");
    });
    const out = await startOutbound({ port: receiver.port, threaded, ackTimeoutMs: 5000 });
    try {
      await out.enqueue("F1", "F2", "F3");
      for (const id of ["F1", "F2", "F3"]) {
        await waitFor(`${id} delivered`, async () => (await out.logOf(id)).status === "SUCCEEDED");
      }
      await waitFor(
        "the flooded connection closed by the engine",
        () => receiver.ended.some((e) => e.connection === 1 && e.by === "peer"),
      );
      // Read and logged a bounded number of the strays, not all of them.
      const strays = out.lines("mllp.uncorrelated-reply").length;
      assert.ok(strays <= 24, `${strays} stray replies logged`);
      // The engine said why it ended the connection: in a failed attempt of the message on the
      // wire then, or in the log when it ended between messages.
      const reasons = [
        ...out.lines("mllp.disconnected"),
        ...(await Promise.all(["F1", "F2", "F3"].map((id) => out.logOf(id))))
          .flatMap((l) => l.attempts.map((a) => a.reason ?? "")),
      ];
      assert.ok(
        reasons.some((r) =>
          r.includes("replies beyond 2 a message sent (it floods the connection)")
        ),
        reasons.join("\n"),
      );
      // A message sent again was one whose ACK the flood kept from coming: its log says so.
      for (const id of ["F1", "F2", "F3"]) {
        const copies = receiver.frames.filter((f) => f.controlId === id).length;
        assert.ok(copies >= 1 && copies <= 2, `${id} received ${copies} times`);
        if (copies === 2) {
          const failed = (await out.logOf(id)).attempts.filter((a) => a.outcome === "FAILED");
          assert.ok(failed.some((a) => /floods the connection/.test(a.reason ?? "")), id);
        }
      }
    } finally {
      await out.stop();
      await receiver.close();
    }
  });

  Deno.test(`replies a destination writes while nothing is awaited end the connection after a few, logged when the next message goes (${where})`, async () => {
    let flooding: Promise<number> | undefined;
    const receiver = startReceiver((frame) => {
      if (frame.n === 1) {
        // Far more than socket buffers hold, so that only the engine's close stops it, however
        // slowly a loaded machine lets the engine read (5,000 could all be written first).
        flooding = ackThenFlood(frame, FLOOD);
        return flooding.then(() => {});
      }
      return frame.ack("AA");
    });
    const out = await startOutbound({ port: receiver.port, threaded, ackTimeoutMs: 5000 });
    try {
      await out.enqueue("I1");
      await waitFor("I1 delivered", async () => (await out.logOf("I1")).status === "SUCCEEDED");
      // Nothing else is queued: the engine ends the connection anyway, long before the flood ends.
      await waitFor("the connection closed by the engine", () => receiver.ended.length >= 1);
      assert.equal(receiver.ended[0]!.by, "peer");
      assert.ok((await flooding!) < FLOOD, "the peer could write its whole flood");
      await out.enqueue("I2");
      await waitFor("I2 delivered", async () => (await out.logOf("I2")).status === "SUCCEEDED");
      const ended = out.lines("mllp.disconnected");
      assert.equal(ended.length, 1, ended.join("\n"));
      assert.match(ended[0]!, /WARN/);
      assert.match(ended[0]!, /floods the connection/);
      assert.ok(out.lines("mllp.uncorrelated-reply").length <= 24);
    } finally {
      await out.stop();
      await receiver.close();
    }
  });
}
