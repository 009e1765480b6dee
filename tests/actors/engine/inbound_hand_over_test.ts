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

/** An engine whose destination `ehr` has an HL7 edit (the application step), and its receiver. */
async function editingEngine(kvPath: string) {
  const { received, server: ehr, port: ehrPort } = await startRecordingHl7Server();
  const parsed = parseConfig({
    node: { id: "hand-over" },
    kv: { path: kvPath },
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
  try {
    return { received, ehr, ehrPort, e: await startEngine(parsed.config) };
  } catch (error) {
    await ehr.stop();
    throw error;
  }
}

Deno.test("a message edited by the application step is handed to its destination's actor, which sends the edit without reading it back from KV", async () => {
  await using dir = await tempDir({ prefix: "inbound-hand-over-" });
  const { received, ehr, ehrPort, e } = await editingEngine(`${dir.path}/engine.kv`);
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

Deno.test("the application step reads its queue in turn with other actors' reads: the sender's ACK does not wait, the message goes on once a slot frees", async () => {
  await using dir = await tempDir({ prefix: "inbound-read-gate-" });
  const { received, ehr, e } = await editingEngine(`${dir.path}/engine.kv`);
  const client = new Hl7Client({ host: "127.0.0.1", port: e.mllpPort });
  const slots: (() => void)[] = [];
  try {
    const ackOf = async (controlId: string) =>
      (await client.sendAndWait(Hl7Message.parse(adt(controlId)))).getSegment("MSA")?.getField(1)
        ?.toString();
    assert.equal(await ackOf("G0"), "AA");
    await waitFor("G0 delivered", () => received.some((m) => m.includes("|G0|")));
    const gate = e.engine.store.queueReads;
    // Other actors' reads take every slot.
    const others = Array.from(
      { length: gate.limit },
      () => gate.run(() => new Promise<void>((resolve) => slots.push(resolve))),
    );
    await waitFor("the gate full", () => slots.length === gate.limit);
    // Stored and acknowledged at once: the commit does not go through the gate.
    assert.equal(await ackOf("G1"), "AA");
    await waitFor("the application step in line", () => gate.waiting === 1);
    assert.equal(received.some((m) => m.includes("|G1|")), false);
    for (const release of slots) release();
    await Promise.all(others);
    await waitFor("G1 delivered", () => received.some((m) => m.includes("|G1|")));
  } finally {
    for (const release of slots) release();
    await client.close();
    await e.close();
    await ehr.stop();
  }
});
