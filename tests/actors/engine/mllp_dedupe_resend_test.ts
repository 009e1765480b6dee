import assert from "node:assert/strict";
import { parseHl7 } from "../../../codecs/hl7v2/mod.ts";
import { encodeMllp, MllpDecoder } from "../../../codecs/mllp/mod.ts";
import { parseConfig } from "../../../actors/config/mod.ts";
import { EngineMllpInbox } from "../../../actors/engine/mllp_inbox.ts";
import { memoryLogger } from "../../../actors/runtime/log.ts";
import { Store } from "../../../actors/store/mod.ts";
import { bindMllp } from "../../../transports/mllp/server.ts";
import { adt } from "../../helpers/net.ts";
import { tempDir } from "../../helpers/temp.ts";

const dec = new TextDecoder();

/** The MLLP destination the feed's subscription sends to: its actor's queue. */
const OUT = "mllp-out:127.0.0.1:9";

/**
 * A real MLLP listener on a loopback port for integration `feed` (HL7 passed through to an MLLP
 * destination, routed in the commit that stores the message), its store on a KV file, and a
 * connected sender: `send` writes one frame and resolves with the ACK frame's bytes.
 */
async function rig() {
  const dir = await tempDir({ prefix: "mllp-dedupe-resend-" });
  const log = memoryLogger();
  const bound = await bindMllp({ port: 0, hostname: "127.0.0.1", log });
  const parsed = parseConfig({
    kv: { path: `${dir.path}/engine.kv` },
    environments: [{ id: "dev", type: "development" }],
    integrations: [{
      id: "feed",
      environment: "dev",
      mllp: { port: bound.port, allowedIps: ["127.0.0.1"] },
    }],
    destinations: [{ id: "out", environment: "dev", mllp: { host: "127.0.0.1", port: 9 } }],
    subscriptions: [{ from: { integration: "feed" }, to: ["out"] }],
  }, { env: () => undefined, readFile: () => new Error("none") });
  assert.ok(parsed.ok, JSON.stringify(!parsed.ok && parsed.problems));
  const store = await Store.open({ path: `${dir.path}/engine.kv`, node: "t" });
  const inbox = new EngineMllpInbox({
    config: parsed.config,
    store,
    log,
    notify: () => {},
    handOver: () => {},
  });
  const server = bound.serve(inbox);
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
  const decoder = new MllpDecoder();
  const buf = new Uint8Array(65536);
  const ready: Uint8Array[] = [];
  /** Sends `text` (as UTF-8) in one frame; resolves with the next ACK (30 s, then it closes). */
  const send = async (text: string): Promise<Uint8Array> => {
    await conn.write(encodeMllp(text));
    const timer = setTimeout(() => conn.close(), 30_000);
    try {
      while (ready.length === 0) {
        const n = await conn.read(buf);
        if (n === null) throw new Error("the listener closed the connection");
        for (const e of decoder.push(buf.subarray(0, n))) {
          if (e.type === "frame") ready.push(e.payload);
        }
      }
      return ready.shift()!;
    } finally {
      clearTimeout(timer);
    }
  };
  /** The payloads queued for the destination, in order: what it is delivered. */
  const delivered = async () => {
    const heads = await store.peek(OUT, 100);
    const records = await store.getMessages(heads.map((h) => h.entry.messageId));
    return await Promise.all(records.map(async (r) => dec.decode(await store.getPayload(r!))));
  };
  return {
    log,
    send,
    delivered,
    async [Symbol.asyncDispose]() {
      conn.close();
      await server.close();
      store.close();
      await dir[Symbol.asyncDispose]();
    },
  };
}

const msa = (reply: Uint8Array) => {
  const m = parseHl7(dec.decode(reply));
  return `${m.get("MSA-1")}:${m.get("MSA-2")}`;
};

Deno.test("MLLP listener: A, then B under the same MSH-10, then A again: the third gets A's ACK as a duplicate; A and B are delivered once each", async () => {
  await using t = await rig();
  const a = adt("REUSED", " A"), b = adt("REUSED", " B");
  const ackA = await t.send(a);
  assert.equal(msa(ackA), "AA:REUSED");
  const ackB = await t.send(b);
  assert.equal(msa(ackB), "AA:REUSED");
  assert.notDeepEqual(ackB, ackA, "B is another message (its own id and time)");
  const again = await t.send(a);
  assert.deepEqual(dec.decode(again), dec.decode(ackA), "A's own ACK again, as for any duplicate");
  // And with a new send time (MSH-7), as some senders rebuild a resend.
  const restamped = a.replace("|20240315123000||ADT", "|20240315124500||ADT");
  assert.notEqual(restamped, a);
  assert.deepEqual(dec.decode(await t.send(restamped)), dec.decode(ackA));
  assert.deepEqual(await t.delivered(), [a, b]);
  assert.equal(t.log.lines.filter((l) => l.includes(" mllp.duplicate ")).length, 2);
});

Deno.test("MLLP listener: a resend with CR LF (or LF) segment ends, or another ending after the last segment, is a duplicate; the stored bytes are the first copy's", async () => {
  await using t = await rig();
  const a = adt("LINES") + "\r";
  const ack = await t.send(a);
  assert.equal(msa(ack), "AA:LINES");
  for (
    const copy of [
      a.replaceAll("\r", "\r\n"),
      a.replaceAll("\r", "\n"),
      adt("LINES"),
      adt("LINES") + "\r\n\r\n",
    ]
  ) {
    assert.deepEqual(dec.decode(await t.send(copy)), dec.decode(ack), JSON.stringify(copy));
  }
  assert.deepEqual(await t.delivered(), [a]);
  // Another message with CR LF is still another message.
  const other = adt("LINES", " OTHER").replaceAll("\r", "\r\n");
  assert.equal(msa(await t.send(other)), "AA:LINES");
  assert.deepEqual(await t.delivered(), [a, other]);
});
