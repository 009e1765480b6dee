/**
 * Enhanced acknowledgment mode end to end over a real listener: CA once the message is durable
 * (as MSH-15 asks), then the application ACK on the same connection once the inbound actor has
 * routed it, or failed it (as MSH-16 asks).
 */

import assert from "node:assert/strict";
import { Hl7Server } from "@medplum/hl7";
import { parseHl7 } from "../../../codecs/hl7v2/mod.ts";
import { parseConfig } from "../../../actors/config/mod.ts";
import { connectMllp } from "../../../transports/mllp/client.ts";
import { startHl7Server } from "../../helpers/net.ts";
import { startEngine } from "../../helpers/engine.ts";
import { tempDir } from "../../helpers/temp.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

function message(controlId: string, type: string, acceptAck: string, appAck: string): string {
  return [
    `MSH|^~\\&|LAB|HOSP|ENGINE|CLINIC|20240315123000||${type}|${controlId}|P|2.5.1|||${acceptAck}|${appAck}`,
    "PID|1||123^^^HOSP^MR||DOE^JANE||19800101|F",
  ].join("\r");
}

Deno.test("enhanced mode answers CA on commit, then the application ACK MSH-16 asks for", async () => {
  await using dir = await tempDir({ prefix: "enhanced-ack-" });
  const receiver = new Hl7Server((connection) => {
    connection.addEventListener("message", ({ message }) => connection.send(message.buildAck()));
  });
  const outPort = await startHl7Server(receiver);
  const parsed = parseConfig({
    node: { id: "test" },
    kv: { path: `${dir.path}/engine.kv` },
    environments: [{ id: "dev", type: "development" }],
    integrations: [{
      id: "lab",
      environment: "dev",
      mllp: { port: 0, allowedIps: ["127.0.0.1"], ackMode: "enhanced" },
    }],
    destinations: [
      { id: "ehr", environment: "dev", mllp: { host: "127.0.0.1", port: outPort } },
      {
        id: "app",
        environment: "dev",
        https: { url: "http://127.0.0.1:9/hook", verificationToken: { env: "TOKEN" } },
      },
    ],
    subscriptions: [
      { from: { integration: "lab" }, to: ["ehr"], eventTypes: ["A01"] },
      // Nothing maps ZZZ^Z01 to JSON: the application step fails it.
      { from: { integration: "lab" }, to: ["app"], format: "json", eventTypes: ["Z01"] },
    ],
  }, { env: (name) => name === "TOKEN" ? "t0ken" : undefined, readFile: () => new Error("none") });
  assert.ok(parsed.ok, JSON.stringify(!parsed.ok && parsed.problems));
  const e = await startEngine(parsed.config);
  const inPort = e.mllpPort;
  const conn = await connectMllp({ host: "127.0.0.1", port: inPort }, {
    timeoutMs: 5_000,
    signal: new AbortController().signal,
  });
  const next = async () => {
    const got = await conn.receive(AbortSignal.timeout(10_000));
    assert.equal(got.type, "frame");
    const m = parseHl7(dec.decode(got.type === "frame" ? got.payload : new Uint8Array()));
    return { code: m.get("MSA-1"), id: m.get("MSA-2"), err: m.get("ERR-8") ?? m.get("MSA-3") };
  };
  try {
    // AL/AL: both acknowledgments, accept first.
    await conn.send(enc.encode(message("E1", "ADT^A01", "AL", "AL")));
    assert.deepEqual(await next(), { code: "CA", id: "E1", err: undefined });
    assert.deepEqual(await next(), { code: "AA", id: "E1", err: undefined });

    // NE/ER on a success: no accept ACK and no application ACK. The next frame on the wire is
    // the CA of the message after it.
    await conn.send(enc.encode(message("E2", "ADT^A01", "NE", "ER")));
    await conn.send(enc.encode(message("E3", "ADT^A01", "AL", "NE")));
    assert.deepEqual(await next(), { code: "CA", id: "E3", err: undefined });

    // AL/ER on a failure in the application step: CA, then AE with the reason.
    await conn.send(enc.encode(message("E4", "ZZZ^Z01", "AL", "ER")));
    assert.deepEqual(await next(), { code: "CA", id: "E4", err: undefined });
    const app = await next();
    assert.equal(app.code, "AE");
    assert.equal(app.id, "E4");
    assert.match(app.err ?? "", /ZZZ/);
  } finally {
    conn.close();
    await e.close();
    await receiver.stop({ forceDrainTimeoutMs: 100 });
  }
});
