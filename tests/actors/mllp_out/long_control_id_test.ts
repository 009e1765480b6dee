/**
 * An MSH-10 longer than the copy a message record keeps (1,024 characters, then "… (N
 * characters)"): the destination's ACK names the full MSH-10 in MSA-2 and must be taken as the
 * ACK of the message, whether the engine's thread sent it or the socket thread sent it on its own.
 * Real receivers on loopback, a real delivery actor and store (see `tests/helpers/outbound.ts`).
 */

import assert from "node:assert/strict";
import { waitFor } from "../../helpers/net.ts";
import { startReceiver } from "../../helpers/receivers.ts";
import { startOutbound } from "../../helpers/outbound.ts";

/** A control id of `length` characters that starts with `prefix`. */
function longId(prefix: string, length: number): string {
  return (prefix + "X".repeat(length)).slice(0, length);
}

for (const threaded of [false, true]) {
  const where = threaded ? "the socket thread's connection" : "a socket on the engine's thread";

  Deno.test(`an 8 KB MSH-10 is delivered once and SUCCEEDED, over ${where}`, async () => {
    const receiver = startReceiver((f) => f.ack("AA"));
    const rig = await startOutbound({ port: receiver.port, threaded, ackTimeoutMs: 2000 });
    try {
      const id = longId("LONG1-", 8 * 1024);
      await rig.enqueueMessage("LONG1", { controlId: id });
      // The record keeps the bounded copy: that is what the deliverer had to see past.
      const record = await rig.store.getMessage(rig.messageIdOf("LONG1"));
      assert.match(record?.controlId ?? "", /… \(8192 characters\)$/);
      await waitFor("LONG1 settled", async () => (await rig.logOf("LONG1")).attemptCount >= 1);
      const log = await rig.logOf("LONG1");
      assert.equal(log.status, "SUCCEEDED", log.attempts[0]?.reason);
      assert.equal(log.attemptCount, 1);
      assert.equal(log.attempts[0]?.reason, "AA");
      assert.equal(receiver.frames.length, 1);
      assert.equal(receiver.frames[0]!.controlId, id);
      assert.equal(await rig.store.depth(rig.actorId), 0);
      assert.deepEqual(rig.lines("mllp.uncorrelated-reply"), []);
    } finally {
      await rig.stop();
      await receiver.close();
    }
  });
}

Deno.test("queued 8 KB MSH-10s are sent ahead by the socket thread and each is SUCCEEDED once", async () => {
  const receiver = startReceiver((f) => f.ack("AA"));
  const rig = await startOutbound({
    port: receiver.port,
    threaded: true,
    ackTimeoutMs: 2000,
    deferStart: true,
  });
  try {
    const names = Array.from({ length: 6 }, (_, i) => `LONG${i}`);
    const ids = names.map((n) => longId(`${n}-`, 8 * 1024 + 7));
    for (let i = 0; i < names.length; i++) {
      await rig.enqueueMessage(names[i]!, { controlId: ids[i]! });
    }
    rig.start();
    await waitFor("the queue drained", async () => (await rig.store.depth(rig.actorId)) === 0);
    assert.deepEqual(receiver.frames.map((f) => f.controlId), ids, "each sent once, in order");
    for (const name of names) {
      const log = await rig.logOf(name);
      assert.equal(log.status, "SUCCEEDED", name);
      assert.equal(log.attemptCount, 1, name);
      assert.equal(log.attempts[0]?.reason, "AA", name);
    }
    // The socket thread took the ACKs of long MSH-10s as accepts and went on by itself.
    assert.ok(rig.sentAhead().length >= 1, `sent ahead: ${rig.sentAhead().join(" ")}`);
    assert.ok(rig.sentAhead().every((n) => names.includes(n)), rig.sentAhead().join(" "));
    assert.deepEqual(rig.lines("mllp.uncorrelated-reply"), []);
  } finally {
    await rig.stop();
    await receiver.close();
  }
});
