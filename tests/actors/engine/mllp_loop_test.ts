import assert from "node:assert/strict";
import { Hl7Message } from "@medplum/core";
import { Hl7Client, Hl7Server } from "@medplum/hl7";
import { parseConfig } from "../../../actors/config/mod.ts";
import { listLogs } from "../../../actors/store/mod.ts";
import { startEngine } from "../../helpers/engine.ts";
import { adt, startHl7Server, waitFor } from "../../helpers/net.ts";
import { tempDir } from "../../helpers/temp.ts";

function engineConfig(kvPath: string, inPort: number, outPort: number) {
  const result = parseConfig({
    node: { id: "test" },
    kv: { path: kvPath },
    environments: [{ id: "dev", type: "development" }],
    integrations: [{
      id: "feed",
      environment: "dev",
      mllp: { port: inPort, allowedIps: ["127.0.0.1"] },
    }],
    destinations: [{ id: "ehr", environment: "dev", mllp: { host: "127.0.0.1", port: outPort } }],
    subscriptions: [{ from: { integration: "feed" }, to: ["ehr"] }],
  }, { env: () => undefined, readFile: () => new Error("none") });
  assert.ok(result.ok, JSON.stringify(!result.ok && result.problems));
  return result.config;
}

Deno.test("engine carries MLLP in to an Hl7Server out, in order, every message logged", async () => {
  await using dir = await tempDir({ prefix: "mllp-loop-" });
  const received: string[] = [];
  const receiver = new Hl7Server((connection) => {
    connection.addEventListener("message", ({ message }) => {
      received.push(message.getSegment("MSH")?.getField(10)?.toString() ?? "?");
      connection.send(message.buildAck());
    });
  });
  const outPort = await startHl7Server(receiver);
  const e = await startEngine(engineConfig(`${dir.path}/engine.kv`, 0, outPort));
  const { engine } = e;
  const inPort = e.mllpPort;
  const client = new Hl7Client({ host: "127.0.0.1", port: inPort });
  try {
    const ids = Array.from({ length: 30 }, (_, i) => `CTRL${String(i).padStart(3, "0")}`);
    for (const id of ids) {
      const ack = await client.sendAndWait(Hl7Message.parse(adt(id)));
      assert.equal(ack.getSegment("MSA")?.getField(1)?.toString(), "AA");
      assert.equal(ack.getSegment("MSA")?.getField(2)?.toString(), id);
    }
    await waitFor("all messages delivered", () => received.length >= ids.length);
    assert.deepEqual(received, ids);
    await waitFor("logs settled", async () => {
      const { logs } = await listLogs(engine.store.kv, {
        type: "SEND",
        status: "SUCCEEDED",
        limit: 500,
      });
      return logs.length === ids.length;
    });
    const receives = await listLogs(engine.store.kv, { type: "RECEIVE", limit: 500 });
    assert.equal(receives.logs.length, ids.length);
    assert.ok(receives.logs.every((l) => l.status === "SUCCEEDED"));
    const status = await engine.supervisor.status(`mllp-out:127.0.0.1:${outPort}`);
    assert.equal(status?.queueDepth, 0);
    assert.equal(status?.socket, "open");
  } finally {
    await client.close();
    await e.close();
    await receiver.stop({ forceDrainTimeoutMs: 100 });
  }
});
