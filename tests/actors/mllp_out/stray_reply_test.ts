/**
 * A destination that answers with frames that do not acknowledge the message on the wire (not
 * HL7, or an ACK whose MSA-2 names another message): the attempt is never taken as delivered, and
 * its failure reason says what came back, bounded and with control characters escaped. Real
 * receivers on loopback, a real delivery actor and store (see `tests/helpers/outbound.ts`).
 */

import assert from "node:assert/strict";
import { waitFor } from "../../helpers/net.ts";
import { controlIds, startReceiver } from "../../helpers/receivers.ts";
import { startOutbound } from "../../helpers/outbound.ts";

/**
 * The ACK timeout: the first attempt, answered only wrongly, fails at it; the retry must be
 * answered within it, on a loaded machine too (0.5 s was thin for that: one more attempt).
 */
const ACK_MS = 2000;

const ACK_OF = (msa2: string) => `MSH|^~\\&|R|R|E|E|20260101||ACK|R1|P|2.5\rMSA|AA|${msa2}`;

for (const threaded of [false, true]) {
  const where = threaded ? "the socket thread's connection" : "a socket on the engine's thread";

  Deno.test(`an ACK of another message and garbage are named in the attempt's reason, over ${where}`, async () => {
    // The first attempt is answered wrongly twice and never rightly; the retry (at once) gets AA.
    const receiver = startReceiver(async (f) => {
      if (f.n === 1) {
        await f.ack("AA", { msa2: "SOMEONE-ELSE" });
        await f.send("this is not HL7");
      } else await f.ack("AA");
    });
    const rig = await startOutbound({ port: receiver.port, threaded, ackTimeoutMs: ACK_MS });
    try {
      await rig.enqueueMessage("STRAY1");
      await waitFor(
        "the first attempt failed",
        async () => (await rig.logOf("STRAY1")).attemptCount >= 1,
      );
      const first = (await rig.logOf("STRAY1")).attempts[0]!;
      assert.equal(first.outcome, "FAILED", "a non-matching ACK is no delivery");
      assert.equal(
        first.reason,
        "no ACK within 2 s; the destination answered 2 replies that do not acknowledge this " +
          'message (first: MSA-2 is "SOMEONE-ELSE"); socket closed',
      );
      await waitFor(
        "the retry delivered",
        async () => (await rig.logOf("STRAY1")).status === "SUCCEEDED",
      );
      assert.equal((await rig.logOf("STRAY1")).attemptCount, 2);
      assert.deepEqual(controlIds(receiver), ["STRAY1", "STRAY1"]);
    } finally {
      await rig.stop();
      await receiver.close();
    }
  });
}

Deno.test("a reply's untrusted text in the reason is cut short and its control characters escaped", async () => {
  const huge = `${"Z".repeat(5000)}\u0007END`;
  const receiver = startReceiver(async (f) => {
    if (f.n === 1) await f.send(ACK_OF(huge));
    else await f.ack("AA");
  });
  const rig = await startOutbound({ port: receiver.port, threaded: false, ackTimeoutMs: ACK_MS });
  try {
    await rig.enqueueMessage("STRAY2");
    await waitFor(
      "the first attempt failed",
      async () => (await rig.logOf("STRAY2")).attemptCount >= 1,
    );
    const reason = (await rig.logOf("STRAY2")).attempts[0]!.reason ?? "";
    assert.match(
      reason,
      /^no ACK within 2 s; the destination answered 1 reply that does not acknowledge this message \(MSA-2 is "Z+…\); socket closed$/,
    );
    assert.ok(reason.length <= 400, `${reason.length} characters`);
    assert.ok(![...reason].some((c) => c.charCodeAt(0) < 0x20), "no control characters");
    // The log line that tells of each such reply is bounded too.
    const lines = rig.lines("mllp.uncorrelated-reply");
    assert.equal(lines.length, 1);
    assert.ok(lines[0]!.length <= 1000, `${lines[0]!.length} characters`);
  } finally {
    await rig.stop();
    await receiver.close();
  }
});

Deno.test("control characters of a reply that is no ACK are escaped in the reason", async () => {
  // Not an ACK at all: its message type (with a control character) is what the reason can name.
  const receiver = startReceiver(async (f) => {
    if (f.n === 1) await f.send("MSH|^~\\&|R|R|E|E|20260101||\u0003X^A01|1|P|2.5\rPID|1");
    else await f.ack("AA");
  });
  const rig = await startOutbound({ port: receiver.port, threaded: false, ackTimeoutMs: ACK_MS });
  try {
    await rig.enqueueMessage("STRAY3");
    await waitFor(
      "the first attempt failed",
      async () => (await rig.logOf("STRAY3")).attemptCount >= 1,
    );
    const reason = (await rig.logOf("STRAY3")).attempts[0]!.reason ?? "";
    assert.equal(
      reason,
      "no ACK within 2 s; the destination answered 1 reply that does not acknowledge this " +
        "message (reply has no MSA segment (\\u0003X)); socket closed",
    );
    assert.ok(![...reason].some((c) => c.charCodeAt(0) < 0x20), "no control characters");
  } finally {
    await rig.stop();
    await receiver.close();
  }
});
