/**
 * Every refusal names its cause with HL7 table 0357 in ERR-3 (and the segment or field in ERR-2
 * where there is one): 207 (Application internal error) is kept for the engine's own failures.
 * The inbox runs on a real KV file; the application ACKs come through a real listener.
 */

import assert from "node:assert/strict";
import { parseHl7 } from "../../../codecs/hl7v2/mod.ts";
import { parseConfig } from "../../../actors/config/mod.ts";
import { EngineMllpInbox } from "../../../actors/engine/mllp_inbox.ts";
import { memoryLogger } from "../../../actors/runtime/log.ts";
import { Store } from "../../../actors/store/mod.ts";
import { adt } from "../../helpers/net.ts";
import { frameOf, RawMllpSender } from "../../helpers/raw_sender.ts";
import { startEngine } from "../../helpers/engine.ts";
import { tempDir } from "../../helpers/temp.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** MSA-1, ERR-2 (as ERL), ERR-3.1 and ERR-8 of an ACK. */
function err(reply: Uint8Array | undefined) {
  if (!reply) throw new Error("no reply");
  const m = parseHl7(dec.decode(reply));
  return {
    code: m.get("MSA-1"),
    location: m.getRaw("ERR-2") ?? "",
    condition: m.get("ERR-3.1"),
    text: m.get("ERR-8"),
  };
}

/** An inbox on a fresh KV file: `feed` takes 127.0.0.1 on port 1, `lab` and `ris` port 2. */
async function withInbox(run: (inbox: EngineMllpInbox) => Promise<void>): Promise<void> {
  await using dir = await tempDir({ prefix: "err-codes-" });
  const result = parseConfig({
    kv: { path: `${dir.path}/engine.kv` },
    environments: [{ id: "dev", type: "development" }],
    integrations: [
      { id: "feed", environment: "dev", mllp: { port: 1, allowedIps: ["127.0.0.1"] } },
      {
        id: "lab",
        environment: "dev",
        mllp: { port: 2, allowedIps: ["127.0.0.1"], sendingFacility: "LAB" },
      },
      {
        id: "ris",
        environment: "dev",
        mllp: { port: 2, allowedIps: ["127.0.0.1"], sendingFacility: "RIS" },
      },
    ],
    limits: { maxHl7Bytes: 4096 },
  }, { env: () => undefined, readFile: () => new Error("none") });
  assert.ok(result.ok, JSON.stringify(!result.ok && result.problems));
  const store = await Store.open({ path: `${dir.path}/engine.kv`, node: "t" });
  try {
    await run(
      new EngineMllpInbox({ config: result.config, store, log: memoryLogger(), notify() {} }),
    );
  } finally {
    store.close();
  }
}

const frame = (text: string, peerIp = "127.0.0.1", localPort = 1) => ({
  payload: enc.encode(text),
  localPort,
  peerIp,
  connection: "c1",
});

Deno.test("an unknown sender is refused with 204 (unknown key identifier), MSH-4 named when it decides", async () => {
  await withInbox(async (inbox) => {
    const peer = await inbox.receive(frame(adt("U1"), "10.1.2.3"));
    assert.deepEqual(err(peer.reply), {
      code: "AR",
      location: "",
      condition: "204",
      text: "no integration accepts messages from 10.1.2.3 on port 1",
    });
    assert.equal(peer.close, true);
    const facility = await inbox.receive(frame(adt("U2"), "127.0.0.1", 2));
    assert.deepEqual(err(facility.reply), {
      code: "AR",
      location: "MSH^1^4^1",
      condition: "204",
      text: 'no integration accepts sending facility "HOSP" from 127.0.0.1 on port 2',
    });
  });
});

Deno.test("an empty MSH-10 is refused with 101 (required field missing) at MSH-10", async () => {
  await withInbox(async (inbox) => {
    const r = await inbox.receive(
      frame(adt("").replace("|ADT^A01^ADT_A01||", "|ADT^A01^ADT_A01||")),
    );
    assert.deepEqual(err(r.reply), {
      code: "AR",
      location: "MSH^1^10^1",
      condition: "101",
      text: "MSH-10 (message control id) is empty",
    });
  });
});

Deno.test("unreadable messages are refused with 100, 101 or 102 by what is wrong, never 207", async () => {
  await withInbox(async (inbox) => {
    const cases: [string, string, string][] = [
      // No MSH at the start: a segment sequence error.
      ["PID|1||X\rMSH|^~\\&|A|B|C|D|2024||ADT^A01|X1|P|2.5.1", "100", "MSH^1"],
      // MSH stops before MSH-9 to MSH-12: required fields missing.
      ["MSH|^~\\&|A|B|C|D|2024", "101", "MSH^1"],
      // The same character twice in MSH-2: a data type error in MSH-2.
      ["MSH|^^\\&|A|B|C|D|2024||ADT^A01|X2|P|2.5.1", "102", "MSH^1^2^1"],
      // A segment without a valid ID.
      [adt("X3") + "\rp1d|x", "100", "MSH^1"],
    ];
    for (const [text, condition, location] of cases) {
      const r = err((await inbox.receive(frame(text))).reply);
      assert.equal(r.code, "AR", text);
      assert.equal(r.condition, condition, text);
      assert.equal(r.location, location, text);
      assert.match(r.text ?? "", /^cannot read the message: /);
    }
  });
});

Deno.test("an over-size frame is refused with 104 (value too long)", async () => {
  await withInbox((inbox) => {
    const r = err(inbox.oversize({ localPort: 1, peerIp: "127.0.0.1", size: 5000, limit: 4096 }));
    assert.equal(r.code, "AR");
    assert.equal(r.condition, "104");
    return Promise.resolve();
  });
});

Deno.test("application ACKs name the fault: 200 for an unmapped type, 100 for a missing segment, 201 for an order control", async () => {
  await using dir = await tempDir({ prefix: "err-codes-" });
  const parsed = parseConfig({
    node: { id: "test" },
    kv: { path: `${dir.path}/engine.kv` },
    environments: [{ id: "dev", type: "development" }],
    integrations: [{
      id: "lab",
      environment: "dev",
      mllp: { port: 0, allowedIps: ["127.0.0.1"], ackMode: "enhanced" },
    }],
    destinations: [{
      id: "app",
      environment: "dev",
      https: { url: "http://127.0.0.1:9/hook", verificationToken: { env: "TOKEN" } },
    }],
    subscriptions: [{ from: { integration: "lab" }, to: ["app"] }],
  }, { env: (n) => n === "TOKEN" ? "t0ken" : undefined, readFile: () => new Error("none") });
  assert.ok(parsed.ok, JSON.stringify(!parsed.ok && parsed.problems));
  const e = await startEngine(parsed.config);
  const inPort = e.mllpPort;
  const sender = await RawMllpSender.connect(inPort);
  try {
    const header = (type: string, id: string) =>
      `MSH|^~\\&|EPIC|HOSP|ENGINE|CLINIC|20240315123000||${type}|${id}|P|2.5.1|||AL|AL`;
    const cases: [string, string, string, RegExp][] = [
      [`${header("ZZZ^Z01", "F1")}\rPID|1||P1`, "200", "MSH^1^9^1^1", /no data model maps ZZZ/],
      [
        `${header("ADT^A01^ADT_A01", "F2")}\rEVN|A01|20240315123000\rPV1|1|I`,
        "100",
        "PID^1",
        /ADT\^A01 requires a PID segment; none found/,
      ],
      [
        `${header("ORM^O01^ORM_O01", "F3")}\rPID|1||P1\rORC|RE|O1`,
        "201",
        "ORC^1^1^1",
        /ORC-1 "RE" is not a supported order control for ORM\^O01/,
      ],
    ];
    let seen = 0;
    for (const [text, condition, location, reason] of cases) {
      await sender.write(frameOf(text));
      const [accept, app] = await sender.frameCount(seen + 2, seen);
      seen += 2;
      assert.equal(err(accept).code, "CA", text);
      const e = err(app);
      assert.equal(e.code, "AE", text);
      assert.equal(e.condition, condition, text);
      assert.equal(e.location, location, text);
      assert.match(e.text ?? "", reason);
    }
  } finally {
    await sender.close();
    await e.close();
  }
});
