/**
 * Payloads stored after a compression dictionary reach the destination byte for byte, also when
 * the next engine on the same KV reads them back (and their dictionary) from KV.
 */

import assert from "node:assert/strict";
import { Hl7Message } from "@medplum/core";
import { Hl7Client } from "@medplum/hl7";
import { parseConfig } from "../../../actors/config/mod.ts";
import { listLogs, type MessageRecord } from "../../../actors/store/mod.ts";
import { startEngine, type TestEngine } from "../../helpers/engine.ts";
import { waitFor } from "../../helpers/net.ts";
import { startHoldingReceiver } from "../../helpers/receivers.ts";
import { tempDir } from "../../helpers/temp.ts";

/** An ORU^R01 of ~1.5 KB: a lab result with a dozen observations. */
function oru(n: number): string {
  return [
    `MSH|^~\\&|LAB|HOSP|EHR|HOSP|20261205${
      String(n % 60).padStart(2, "0")
    }0000||ORU^R01^ORU_R01|R${n}|P|2.5.1`,
    `PID|1||${700000 + n}^^^HOSP^MR||PATIENT${n}^ALEX||19700101|U`,
    `OBR|1|ORD${n}||24323-8^Comprehensive metabolic panel^LN|||20261205${n % 10}00000`,
    ...Array.from(
      { length: 12 },
      (_, i) =>
        `OBX|${i + 1}|NM|${2345 + i}-7^Analyte ${i}^LN||${
          (n * 13 + i * 7) % 200
        }|mg/dL|10-120|N|||F`,
    ),
  ].join("\r");
}

Deno.test("payloads stored after a dictionary are delivered byte for byte, also read back from KV by the next engine", async () => {
  await using dir = await tempDir({ prefix: "dict-e2e-" });
  const { receiver, release } = startHoldingReceiver();
  const result = parseConfig({
    node: { id: "dict" },
    kv: { path: `${dir.path}/engine.kv` },
    http: { port: 0, hostname: "127.0.0.1", development: true },
    environments: [{ id: "dev", type: "development" }],
    integrations: [{ id: "lab", environment: "dev", mllp: { port: 0, allowedIps: ["127.0.0.1"] } }],
    destinations: [{
      id: "ehr",
      environment: "dev",
      mllp: { host: "127.0.0.1", port: receiver.port, ackTimeoutSeconds: 30 },
    }],
    subscriptions: [{ from: { integration: "lab" }, to: ["ehr"] }],
  }, { env: () => undefined, readFile: () => new Error("none") });
  assert.ok(result.ok, JSON.stringify(!result.ok && result.problems));
  const sent = Array.from({ length: 20 }, (_, i) => oru(i));
  let engine: TestEngine | undefined;
  try {
    engine = await startEngine(result.config);
    const client = new Hl7Client({ host: "127.0.0.1", port: engine.mllpPort });
    try {
      for (const [i, text] of sent.entries()) {
        const ack = await client.sendAndWait(Hl7Message.parse(text));
        assert.equal(ack.getSegment("MSA")?.getField(1)?.toString(), "AA");
        // The first message makes the dictionary the others are stored after.
        if (i === 0) await engine.engine.store.dictionaries.settled();
      }
    } finally {
      await client.close();
    }
    const records: MessageRecord[] = [];
    for await (const e of engine.engine.store.kv.list<MessageRecord>({ prefix: ["msg"] })) {
      records.push(e.value);
    }
    assert.equal(records.length, sent.length);
    assert.equal(records.filter((r) => r.dictionary !== undefined).length, sent.length - 1);
    // The next engine reads the queue, payloads and dictionary from KV (nothing in its memory).
    // Its listener takes a port of its own: the messages wait in the destination's queue, and
    // the port the first one freed may meanwhile be another test's connection's.
    await engine.close();
    engine = undefined;
    release();
    engine = await startEngine(result.config);
    const store = engine.engine.store;
    await waitFor("every message delivered", async () => {
      const { logs } = await listLogs(store.kv, { type: "SEND", status: "SUCCEEDED", limit: 100 });
      return logs.length === sent.length;
    });
    // The one in flight at the stop comes twice; every message arrives as it was sent, in order.
    const got = receiver.frames.map((f) => f.message.encode());
    const once = got.filter((t, i) => i === 0 || t !== got[i - 1]);
    assert.deepEqual(once, sent);
  } finally {
    release();
    await engine?.close();
    await receiver.close();
  }
});
