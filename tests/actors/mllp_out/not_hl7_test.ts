/**
 * A message that is not HL7 v2 (an X12 interchange a JSON sender routed to an MLLP destination,
 * HL7 sent as UTF-16) can never be answered by the receiver's HL7 ACK: it is dead-lettered at its
 * first attempt with a reason naming what it begins with, nothing of it is sent, and the queue goes
 * on — whether the engine's thread or the socket thread would send it. A UTF-8 byte order mark
 * before MSH is still HL7. Real receivers on loopback, a real delivery actor and store.
 */

import assert from "node:assert/strict";
import { adt, waitFor } from "../../helpers/net.ts";
import { controlIds, startReceiver } from "../../helpers/receivers.ts";
import { startOutbound } from "../../helpers/outbound.ts";

const X12 = "ISA*00*          *00*          *ZZ*SUBMITTER      *ZZ*RECEIVER       " +
  "*230101*1200*^*00501*000000001*0*P*:~GS*HS*S*R*20230101*1200*1*X*005010X279A1~" +
  "ST*270*0001*005010X279A1~SE*2*0001~GE*1*1~IEA*1*000000001~";

for (const threaded of [false, true]) {
  const where = threaded ? "the socket thread's connection" : "a socket on the engine's thread";

  Deno.test(`an X12 interchange queued for an MLLP destination is dead-lettered at once and the next message is delivered, over ${where}`, async () => {
    const receiver = startReceiver((f) => f.ack("AA"));
    const rig = await startOutbound({
      port: receiver.port,
      threaded,
      ackTimeoutMs: 2000,
      deferStart: true,
    });
    try {
      await rig.enqueueMessage("FIRST1");
      // Its record carries the interchange's control number, as the X12 intake stores it.
      await rig.enqueueMessage("X12", { payload: X12, controlId: "000000001" });
      await rig.enqueueMessage("NEXT3");
      rig.start();
      await waitFor("the queue drained", async () => (await rig.store.depth(rig.actorId)) === 0);
      const log = await rig.logOf("X12");
      assert.equal(log.status, "FAILED");
      assert.equal(log.attemptCount, 1, "dead-lettered at once, not retried");
      assert.equal(
        log.attempts[0]?.reason,
        'not an HL7 v2 message (it begins "ISA*00*          *00*   …", not MSH): ' +
          "an MLLP destination sends HL7 v2 only, and no ACK could answer this message",
      );
      assert.equal(log.deadLetter?.by, "policy:dead-letter");
      assert.deepEqual(controlIds(receiver), ["FIRST1", "NEXT3"], "nothing of the X12 was sent");
    } finally {
      await rig.stop();
      await receiver.close();
    }
  });
}

Deno.test("HL7 after a UTF-8 byte order mark goes out; HL7 in UTF-16 is dead-lettered naming it", async () => {
  const receiver = startReceiver((f) => f.ack("AA"));
  const rig = await startOutbound({ port: receiver.port, ackTimeoutMs: 2000, deferStart: true });
  try {
    await rig.enqueueMessage("BOM8", { payload: `\ufeff${adt("BOM8")}` });
    const utf16 = String.fromCharCode(...new Uint8Array(new Uint16Array([0xfeff]).buffer)) +
      "M\0S\0H\0";
    await rig.enqueueMessage("UTF16", { payload: utf16, controlId: "UTF16" });
    await rig.enqueueMessage("AFTER");
    rig.start();
    await waitFor("the queue drained", async () => (await rig.store.depth(rig.actorId)) === 0);
    assert.equal((await rig.logOf("BOM8")).status, "SUCCEEDED");
    const log = await rig.logOf("UTF16");
    assert.equal(log.status, "FAILED");
    assert.match(
      log.attempts[0]?.reason ?? "",
      /^not an HL7 v2 message \(it begins ".*", not MSH\)/,
    );
    assert.deepEqual(controlIds(receiver), ["BOM8", "AFTER"]);
  } finally {
    await rig.stop();
    await receiver.close();
  }
});
