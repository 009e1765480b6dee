/**
 * A message through the application step (an HL7 edit on its destination) reaches the
 * destination's actor in memory, with the edited message's record, as a message routed at intake
 * does: the actor sends the edit without reading its entry back from KV. A real engine, a real
 * MLLP sender and a real `@medplum/hl7` receiver on loopback.
 */

import assert from "node:assert/strict";
import { Hl7Message } from "@medplum/core";
import { Hl7Client } from "@medplum/hl7";
import { parseConfig } from "../../../actors/config/mod.ts";
import { startRecordingHl7Server, waitFor } from "../../helpers/net.ts";
import { startEngine } from "../../helpers/engine.ts";
import { tempDir } from "../../helpers/temp.ts";

function adt(controlId: string): string {
  return [
    `MSH|^~\\&|EPIC|HOSP|ENGINE|CLINIC|20240315123000||ADT^A01^ADT_A01|${controlId}|P|2.5.1`,
    "EVN|A01|20240315123000",
    "PID|1||MRN77^^^HOSP^MR||DOE^JANE||19800101|F",
    "PV1|1|I|4WEST^412^B",
  ].join("\r");
}

Deno.test("a message edited by the application step is handed to its destination's actor, which sends the edit without reading it back from KV", async () => {
  await using dir = await tempDir({ prefix: "inbound-hand-over-" });
  const { received, server: ehr, port: ehrPort } = await startRecordingHl7Server();
  const parsed = parseConfig({
    node: { id: "hand-over" },
    kv: { path: `${dir.path}/engine.kv` },
    environments: [{ id: "dev", type: "development" }],
    integrations: [{
      id: "feed",
      environment: "dev",
      mllp: { port: 0, allowedIps: ["127.0.0.1"] },
    }],
    destinations: [{
      id: "ehr",
      environment: "dev",
      mllp: { host: "127.0.0.1", port: ehrPort },
      hl7Edits: [{ name: "facility", op: "set", path: "MSH-4", value: "EDITED" }],
    }],
    subscriptions: [{ from: { integration: "feed" }, to: ["ehr"] }],
  }, { env: () => undefined, readFile: () => new Error("no files") });
  assert.ok(parsed.ok, JSON.stringify(!parsed.ok && parsed.problems));
  const e = await startEngine(parsed.config);
  const client = new Hl7Client({ host: "127.0.0.1", port: e.mllpPort });
  try {
    const send = async (controlId: string) => {
      const ack = await client.sendAndWait(Hl7Message.parse(adt(controlId)));
      assert.equal(ack.getSegment("MSA")?.getField(1)?.toString(), "AA");
      await waitFor(`${controlId} delivered`, () => received.some((m) => m.includes(controlId)));
    };
    // The first one activates the destination's actor, which reads its queue from KV.
    await send("H0");
    const store = e.engine.store;
    const destination = `mllp-out:127.0.0.1:${ehrPort}`;
    // What is handed over carries its payload (without it, an MLLP socket cannot send ahead).
    const handed: string[] = [];
    const supervisor = e.engine.supervisor;
    const handOver = supervisor.handOver.bind(supervisor);
    supervisor.handOver = (id, items) => {
      for (const i of items) handed.push(i.payload ? new TextDecoder().decode(i.payload) : "");
      handOver(id, items);
    };
    const readBacks: string[] = [];
    const peek = store.peek.bind(store);
    store.peek = (queue, limit, after) => {
      if (queue === destination && after !== undefined) readBacks.push(after);
      return peek(queue, limit, after);
    };
    for (let i = 1; i <= 5; i++) await send(`H${i}`);
    assert.deepEqual(readBacks, [], "the destination's actor read routed entries back from KV");
    assert.equal(handed.length, 5);
    for (const h of handed) assert.equal(h.split("|")[3], "EDITED", h.slice(0, 60));
    // What went out is the edit (the translation's record came with the entry), in order.
    const sent = received.filter((m) => /\|H\d\|/.test(m));
    assert.deepEqual(sent.map((m) => m.split("|")[9]), ["H0", "H1", "H2", "H3", "H4", "H5"]);
    for (const m of sent) assert.equal(m.split("|")[3], "EDITED", m.slice(0, 60));
  } finally {
    await client.close();
    await e.close();
    await ehr.stop();
  }
});
