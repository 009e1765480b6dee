/**
 * MLLP's framing bytes inside a message. The strict listener keeps an FS not followed by CR as
 * content; no MLLP destination could ever send such a message on (its frame would end early), so
 * the intake refuses it with a negative ACK naming the byte and where it is, stores nothing, and
 * goes on with the connection. A JSON string holding the same characters is written as HL7 hex
 * escapes and delivered.
 */

import assert from "node:assert/strict";
import { hl7ToJson } from "../../../codecs/datamodel/mod.ts";
import { parseHl7 } from "../../../codecs/hl7v2/mod.ts";
import { parseConfig } from "../../../actors/config/mod.ts";
import { EngineMllpInbox } from "../../../actors/engine/mllp_inbox.ts";
import { memoryLogger } from "../../../actors/runtime/log.ts";
import { Store } from "../../../actors/store/mod.ts";
import { FetchSender } from "../../../transports/https/mod.ts";
import { apiOf } from "../../helpers/api.ts";
import { startEngine } from "../../helpers/engine.ts";
import { adt, startRecordingHl7Server, waitFor } from "../../helpers/net.ts";
import { concatBytes, frameOf, RawMllpSender, summarizeAck } from "../../helpers/raw_sender.ts";
import { tempDir } from "../../helpers/temp.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** `text` as UTF-16LE bytes. */
function utf16le(text: string): Uint8Array {
  const out = new Uint8Array(text.length * 2);
  for (let i = 0; i < text.length; i++) {
    out[2 * i] = text.charCodeAt(i) & 0xff;
    out[2 * i + 1] = text.charCodeAt(i) >> 8;
  }
  return out;
}

/** An ADT whose patient name holds a lone FS (0x1C, not followed by CR). */
const withLoneFs = (id: string) => adt(id).replace("DOE^JANE", "DOE\u001cX^JANE");

/** A frame around `payload` as it is, without the check `encodeMllp` makes. */
const rawFrame = (payload: Uint8Array) =>
  concatBytes(Uint8Array.of(0x0b), payload, Uint8Array.of(0x1c, 0x0d));

/** An engine whose MLLP integration `feed` passes HL7 through to a recording MLLP server. */
async function rig(ackMode: "original" | "enhanced") {
  const dir = await tempDir({ prefix: "control-bytes-" });
  const out = await startRecordingHl7Server();
  const parsed = parseConfig({
    node: { id: "test" },
    kv: { path: `${dir.path}/engine.kv` },
    environments: [{ id: "dev", type: "development" }],
    integrations: [{
      id: "feed",
      environment: "dev",
      mllp: { port: 0, allowedIps: ["127.0.0.1"], ackMode },
    }],
    destinations: [{ id: "ehr", environment: "dev", mllp: { host: "127.0.0.1", port: out.port } }],
    subscriptions: [{ from: { integration: "feed" }, to: ["ehr"] }],
  }, { env: () => undefined, readFile: () => new Error("none") });
  assert.ok(parsed.ok, JSON.stringify(!parsed.ok && parsed.problems));
  const e = await startEngine(parsed.config);
  return {
    e,
    received: out.received,
    async [Symbol.asyncDispose]() {
      await e.close();
      await out.server.stop({ forceDrainTimeoutMs: 100 });
      await dir[Symbol.asyncDispose]();
    },
  };
}

async function refusesThenAccepts(ackMode: "original" | "enhanced", refusal: string, ok: string) {
  await using r = await rig(ackMode);
  const { e, received } = r;
  const sender = await RawMllpSender.connect(e.mllpPort);
  try {
    const poison = enc.encode(withLoneFs("FS1"));
    const offset = poison.indexOf(0x1c);
    assert.ok(offset > 0);
    // Both frames in one write: the second must still be read and answered on this connection.
    await sender.write(concatBytes(rawFrame(poison), frameOf(adt("OK1"))));
    const [first, second] = await sender.frameCount(2);
    const refused = summarizeAck(first!);
    assert.equal(refused.code, refusal);
    assert.equal(refused.msa2, "FS1");
    assert.equal(
      refused.reason,
      `the message holds the MLLP control byte 0x1C at byte ${offset} (counted from 0 after ` +
        `the start block, in PID-5); MLLP cannot carry it, escape it as \\X1C\\`,
    );
    const err = parseHl7(dec.decode(first!));
    assert.equal(err.get("ERR-3.1"), "102");
    assert.equal(err.get("ERR-2.1"), "PID");
    assert.equal(err.get("ERR-2.3"), "5");
    assert.deepEqual({ code: summarizeAck(second!).code, id: summarizeAck(second!).msa2 }, {
      code: ok,
      id: "OK1",
    });
    assert.equal(sender.ended, false, "the connection stays open");

    await waitFor("OK1 delivered", () => received.length >= 1);
    assert.equal(received.length, 1);
    assert.match(received[0]!, /\|OK1\|/);
    // Nothing of FS1 was stored: no RECEIVE log, no SEND log.
    const store = e.engine.store;
    assert.deepEqual((await store.listLogs({ controlId: "FS1" })).logs, []);
    const receives = (await store.listLogs({ type: "RECEIVE" })).logs;
    assert.deepEqual(receives.map((l) => l.controlId), ["OK1"]);
    const line = e.log.lines.find((l) => l.includes("mllp.control-byte"));
    assert.ok(line, e.log.lines.join("\n"));
    for (const part of ["feed", String(e.mllpPort), "127.0.0.1", "0x1C", String(offset)]) {
      assert.ok(line.includes(part), `${part} in ${line}`);
    }
  } finally {
    await sender.close();
  }
}

Deno.test("a lone FS inside a frame is refused AR naming the byte and offset, not stored; the next message gets AA and is delivered", async () => {
  await refusesThenAccepts("original", "AR", "AA");
});

Deno.test("in enhanced mode a lone FS inside a frame is refused CR; the next message gets CA", async () => {
  await refusesThenAccepts("enhanced", "CR", "CA");
});

/** An inbox (integration `feed` on port 1, passing HL7 to an MLLP destination) on a real store. */
async function inboxRig() {
  const dir = await tempDir({ prefix: "control-bytes-inbox-" });
  const parsed = parseConfig({
    kv: { path: `${dir.path}/engine.kv` },
    environments: [{ id: "dev", type: "development" }],
    integrations: [{
      id: "feed",
      environment: "dev",
      mllp: { port: 1, allowedIps: ["127.0.0.1"] },
    }],
    destinations: [{ id: "out", environment: "dev", mllp: { host: "127.0.0.1", port: 9 } }],
    subscriptions: [{ from: { integration: "feed" }, to: ["out"] }],
  }, { env: () => undefined, readFile: () => new Error("none") });
  assert.ok(parsed.ok, JSON.stringify(!parsed.ok && parsed.problems));
  const store = await Store.open({ path: `${dir.path}/engine.kv`, node: "t" });
  const log = memoryLogger();
  const inbox = new EngineMllpInbox({ config: parsed.config, store, log, notify: () => {} });
  return {
    store,
    log,
    receive: (payload: Uint8Array) =>
      inbox.receive({ payload, localPort: 1, peerIp: "127.0.0.1", connection: "c" }),
    /** Whether nothing was queued, for the destination or the inbound actor. */
    nothingQueued: async () =>
      (await store.depth("mllp-out:127.0.0.1:9")) === 0 &&
      (await store.depth("mllp-in:1:127.0.0.1")) === 0,
    async [Symbol.asyncDispose]() {
      store.close();
      await dir[Symbol.asyncDispose]();
    },
  };
}

Deno.test("the inbox refuses a payload holding a start block 0x0B and names where it is", async () => {
  // The listener's decoder restarts a frame on 0x0B, so this reaches only the inbox directly.
  await using r = await inboxRig();
  const payload = enc.encode(adt("VT1").replace("PV1|1|I", "PV1|1|I\u000b"));
  const offset = payload.indexOf(0x0b);
  const ack = summarizeAck((await r.receive(payload)).reply!);
  assert.equal(ack.code, "AR");
  assert.equal(
    ack.reason,
    `the message holds the MLLP control byte 0x0B at byte ${offset} (counted from 0 after ` +
      `the start block, in PV1-2); MLLP cannot carry it, escape it as \\X0B\\`,
  );
  assert.ok(await r.nothingQueued());
  assert.ok(r.log.lines.some((l) => l.includes("mllp.control-byte")));
});

Deno.test("the inbox refuses UTF-16 whose bytes hold 0x1C inside a character, which the text does not show", async () => {
  // U+1C01 is the bytes 01 1C in UTF-16LE: no U+001C in the text, yet MLLP could not frame it.
  const text = adt("U16").replace("DOE^JANE", "DOE\u1c01^JANE");
  const payload = concatBytes(Uint8Array.of(0xff, 0xfe), utf16le(text));
  const offset = payload.indexOf(0x1c);
  assert.ok(offset > 0);
  await using r = await inboxRig();
  const ack = summarizeAck((await r.receive(payload)).reply!);
  assert.equal(ack.code, "AR");
  assert.equal(
    ack.reason,
    `the message holds the MLLP control byte 0x1C at byte ${offset} (counted from 0 after ` +
      `the start block); MLLP cannot carry it, escape it as \\X1C\\`,
  );
  assert.ok(await r.nothingQueued());
  // The same message without it is accepted: the refusal is about the byte, not UTF-16.
  const fine = concatBytes(Uint8Array.of(0xff, 0xfe), utf16le(adt("U16OK")));
  assert.equal(summarizeAck((await r.receive(fine)).reply!).code, "AA");
});

Deno.test("POST /endpoint with VT in a name is delivered to the MLLP destination as \\X0B\\", async () => {
  await using dir = await tempDir({ prefix: "control-bytes-api-" });
  const out = await startRecordingHl7Server();
  const parsed = parseConfig({
    node: { id: "test" },
    kv: { path: `${dir.path}/engine.kv` },
    environments: [{ id: "dev", type: "development" }],
    sources: [{
      id: "app",
      environment: "dev",
      clientId: "app-client",
      auth: { secret: { env: "APP_SECRET" } },
    }],
    destinations: [{ id: "ehr", environment: "dev", mllp: { host: "127.0.0.1", port: out.port } }],
    subscriptions: [{ from: { source: "app" }, to: ["ehr"] }],
  }, {
    env: (n) => n === "APP_SECRET" ? "app-s3cret" : undefined,
    readFile: () => new Error("none"),
  });
  assert.ok(parsed.ok, JSON.stringify(!parsed.ok && parsed.problems));
  const httpSender = new FetchSender();
  const e = await startEngine(parsed.config, { httpSender, http: true });
  try {
    const api = apiOf(e);
    const token = await api.token("app-client", "app-s3cret");
    const message = hl7ToJson(adt("API-CTL"), {
      timeZone: "UTC",
      extensions: false,
    }) as unknown as {
      Patient: { Demographics: { FirstName: string } };
    };
    message.Patient.Demographics.FirstName = "A\u000bB";
    const res = await fetch(`${api.base}/endpoint`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify(message),
    });
    assert.equal(res.status, 200);
    const answer = await res.json();
    const [logId] = answer.Meta.Logs.map((l: { ID: string }) => l.ID);
    await waitFor(
      "delivered",
      async () => (await e.engine.store.getLog(logId))?.status === "SUCCEEDED",
    );
    assert.equal(out.received.length, 1);
    assert.match(out.received[0]!, /PID\|[^\r]*\|DOE\^A\\X0B\\B\|/);
  } finally {
    await e.close();
    httpSender.close();
    await out.server.stop({ forceDrainTimeoutMs: 100 });
  }
});
