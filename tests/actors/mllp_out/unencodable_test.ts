/**
 * A message holding an MLLP control byte (0x0B or 0x1C) can never be framed: it is dead-lettered at
 * its first attempt with a reason that says so, nothing of it reaches the destination, and the
 * message queued behind it is delivered, whether the engine's thread would send it or the socket
 * thread would send it on its own. Real receivers on loopback, a real delivery actor and store
 * (see `tests/helpers/outbound.ts`).
 */

import assert from "node:assert/strict";
import { adt, waitFor } from "../../helpers/net.ts";
import { controlIds, startReceiver } from "../../helpers/receivers.ts";
import { type Outbound, startOutbound } from "../../helpers/outbound.ts";

/** Checks that `name` was dead-lettered by its first attempt for holding `byte` at `offset`. */
async function assertDeadLettered(rig: Outbound, name: string, byte: string, offset: number) {
  const reason = `the message holds the MLLP control byte ${byte} at byte offset ${offset}; ` +
    "MLLP cannot carry it";
  const log = await rig.logOf(name);
  assert.equal(log.status, "FAILED");
  assert.equal(log.attemptCount, 1, "dead-lettered at once, not retried");
  assert.equal(log.attempts[0]?.outcome, "FAILED");
  assert.equal(log.attempts[0]?.reason, reason);
  assert.equal(log.deadLetter?.by, "policy:dead-letter");
  const dead = await rig.store.deadLetters(rig.actorId);
  assert.deepEqual(dead.map((d) => [d.messageId, d.reason]), [[rig.messageIdOf(name), reason]]);
  assert.equal(rig.lines("delivery.dead-lettered").length, 1);
}

for (const threaded of [false, true]) {
  const where = threaded ? "the socket thread's connection" : "a socket on the engine's thread";

  Deno.test(`a raw 0x1C is dead-lettered at once and the next message is delivered, over ${where}`, async () => {
    const receiver = startReceiver((f) => f.ack("AA"));
    const rig = await startOutbound({ port: receiver.port, threaded, ackTimeoutMs: 2000 });
    try {
      const poison = adt("POISON1", "\x1c");
      await rig.enqueueMessage("POISON1", { payload: poison });
      await rig.enqueueMessage("NEXT2");
      await waitFor(
        "NEXT2 delivered",
        async () => (await rig.logOf("NEXT2")).status === "SUCCEEDED",
      );
      await assertDeadLettered(
        rig,
        "POISON1",
        "0x1C",
        new TextEncoder().encode(poison).indexOf(0x1c),
      );
      assert.deepEqual(controlIds(receiver), ["NEXT2"], "nothing of POISON1 reached the receiver");
      assert.equal((await rig.logOf("NEXT2")).attemptCount, 1);
      assert.equal(await rig.store.depth(rig.actorId), 0);
    } finally {
      await rig.stop();
      await receiver.close();
    }
  });
}

Deno.test("the socket thread does not send a 0x0B payload on its own; it is dead-lettered and the queue goes on", async () => {
  const receiver = startReceiver((f) => f.ack("AA"));
  const rig = await startOutbound({
    port: receiver.port,
    threaded: true,
    ackTimeoutMs: 2000,
    deferStart: true,
  });
  try {
    const poison = adt("POISON2", "\x0b");
    await rig.enqueueMessage("GOOD1");
    await rig.enqueueMessage("POISON2", { payload: poison });
    await rig.enqueueMessage("GOOD3");
    await rig.enqueueMessage("GOOD4");
    rig.start();
    await waitFor("the queue drained", async () => (await rig.store.depth(rig.actorId)) === 0);
    await assertDeadLettered(
      rig,
      "POISON2",
      "0x0B",
      new TextEncoder().encode(poison).indexOf(0x0b),
    );
    assert.deepEqual(controlIds(receiver), ["GOOD1", "GOOD3", "GOOD4"]);
    for (const name of ["GOOD1", "GOOD3", "GOOD4"]) {
      const log = await rig.logOf(name);
      assert.equal(log.status, "SUCCEEDED", name);
      assert.equal(log.attemptCount, 1, name);
    }
    // The thread went on by itself after GOOD1's ACK: POISON2 came to it, not to the engine.
    assert.ok(rig.sentAhead().includes("POISON2"), `sent ahead: ${rig.sentAhead().join(" ")}`);
  } finally {
    await rig.stop();
    await receiver.close();
  }
});
