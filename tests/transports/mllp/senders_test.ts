/**
 * Interop tests of the inbound MLLP path with real senders (issue #4, "Tests (real components)",
 * Senders): `npm:@medplum/hl7`'s `Hl7Client`, and a raw socket that splits frames at every byte,
 * pipelines frames, sends garbage between them, drops the connection mid-frame and sends an
 * over-size frame. Each test runs the real engine as compose() wires it (KV file in a temp dir)
 * behind the real listener on loopback, and checks what went back on the wire and what is stored.
 *
 * The feed's HL7 passes through to one MLLP destination, so the communication step routes each
 * message in the commit that stores it. That destination's actor is paused before the engine
 * starts, so its queue keeps exactly what the communication step stored, in order: its depth and
 * contents are the count and order of the stored messages.
 * @module
 */

import assert from "node:assert/strict";
import fc from "fast-check";
import { Hl7Message } from "@medplum/core";
import { Hl7Client } from "@medplum/hl7";
import { parseConfig } from "../../../actors/config/mod.ts";
import type { Engine } from "../../../actors/engine/engine.ts";
import type { memoryLogger } from "../../../actors/runtime/log.ts";
import { listLogs, Store } from "../../../actors/store/mod.ts";
import type { MllpServer } from "../../../transports/mllp/server.ts";
import { startEngine } from "../../helpers/engine.ts";
import { adt, waitFor } from "../../helpers/net.ts";
import {
  ackKey,
  concatBytes,
  frameOf,
  RawMllpSender,
  sleep,
  summarizeAck,
} from "../../helpers/raw_sender.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** An engine with one MLLP integration ("feed") and its listener on loopback. */
interface Rig {
  engine: Engine;
  store: Store;
  listener: MllpServer;
  port: number;
  /** The queue of the (paused) destination every message is routed to. */
  queue: string;
  log: ReturnType<typeof memoryLogger>;
  close(): Promise<void>;
}

async function startRig(
  options: { maxHl7Bytes?: number; allowedIps?: string[] } = {},
): Promise<Rig> {
  const dir = await Deno.makeTempDir({ prefix: "senders_test_" });
  const kvPath = `${dir}/engine.kv`;
  const result = parseConfig({
    node: { id: "senders" },
    kv: { path: kvPath },
    environments: [{ id: "dev", type: "development" }],
    integrations: [{
      id: "feed",
      environment: "dev",
      mllp: { port: 0, allowedIps: options.allowedIps ?? ["127.0.0.1"] },
    }],
    destinations: [{ id: "out", environment: "dev", mllp: { host: "127.0.0.1", port: 9 } }],
    subscriptions: [{ from: { integration: "feed" }, to: ["out"] }],
    ...(options.maxHl7Bytes ? { limits: { maxHl7Bytes: options.maxHl7Bytes } } : {}),
  }, { env: () => undefined, readFile: () => new Error("none") });
  assert.ok(result.ok, JSON.stringify(!result.ok && result.problems));
  const queue = "mllp-out:127.0.0.1:9";
  const store = await Store.open({ path: kvPath, node: "senders" });
  // Paused: delivery leaves the queue alone, so it shows what the inbox stored.
  await store.setControl(queue, { paused: true, by: "senders_test", reason: "inspect inbox" });
  // Composed as main.ts composes it, on that store; the listener on a port the system picks.
  const { engine, log, servers, mllpPort, close } = await startEngine(result.config, { store });
  return {
    engine,
    store,
    listener: servers.mllp[0]!,
    port: mllpPort,
    queue,
    log,
    async close() {
      try {
        await close();
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    },
  };
}

/** MSH-10 of every message in the destination's queue, in queue order. */
async function queuedControlIds(rig: Rig): Promise<string[]> {
  const heads = await rig.store.peek(rig.queue, 10_000);
  const records = await rig.store.getMessages(heads.map((h) => h.entry.messageId));
  return records.map((r) => r?.controlId ?? "<missing record>");
}

/** The text of every message in the destination's queue, in queue order. */
async function queuedTexts(rig: Rig): Promise<string[]> {
  const heads = await rig.store.peek(rig.queue, 10_000);
  const records = await rig.store.getMessages(heads.map((h) => h.entry.messageId));
  return await Promise.all(records.map(async (r) => dec.decode(await rig.store.getPayload(r!))));
}

/** MSH-10 of every RECEIVE log of the integration, oldest first. */
async function receivedControlIds(rig: Rig): Promise<string[]> {
  const { logs } = await listLogs(rig.store.kv, {
    type: "RECEIVE",
    integrationId: "feed",
    limit: 500,
  });
  return logs.map((l) => l.controlId ?? "<none>").reverse();
}

/** Asserts the queue and the RECEIVE logs both hold exactly `ids`, in this order. */
async function assertStored(rig: Rig, ids: string[]): Promise<void> {
  assert.equal(await rig.store.depth(rig.queue), ids.length, "queue depth");
  assert.deepEqual(await queuedControlIds(rig), ids, "queue, in order");
  assert.deepEqual(await receivedControlIds(rig), ids, "RECEIVE logs, in order");
}

let fences = 0;

/**
 * Proves that nothing more than `answered` frames came back: the listener answers in arrival
 * order, so an extra answer would arrive before the answer to this fence message. Returns the
 * fence's control id (it is stored like any message).
 */
async function fence(sender: RawMllpSender, answered: number, why: string): Promise<string> {
  assert.equal(sender.frames.length, answered, why);
  const id = `FENCE${++fences}`;
  assert.equal(ackKey(await sender.request(adt(id))), `AA:${id}`, why);
  assert.equal(sender.frames.length, answered + 1, why);
  return id;
}

/** The log lines of `event` about the connection whose local end is `local` (`ip:port`). */
function linesAbout(rig: Rig, event: string, local: string): string[] {
  return rig.log.lines.filter((l) => l.includes(` ${event} `) && l.includes(`@${local} `));
}

/** An ADT whose frame payload is exactly `size` bytes (PID-5 padded). */
function adtOfSize(controlId: string, size: number): string {
  const base = adt(controlId).length;
  assert.ok(size >= base, `size ${size} below the bare message (${base})`);
  const msg = adt(controlId, "X".repeat(size - base));
  assert.equal(enc.encode(msg).length, size);
  return msg;
}

/** Waits until the listener has finished with every connection. */
async function connectionsDrained(rig: Rig): Promise<void> {
  await waitFor("the listener to finish its connections", () => rig.listener.connections === 0);
}

// ---------------------------------------------------------------------------------------------
// 1. npm:@medplum/hl7's Hl7Client as the sender
// ---------------------------------------------------------------------------------------------

Deno.test("Hl7Client: 20 ADTs sent and awaited one by one are each answered AA with MSA-2 = MSH-10 and stored in order", async () => {
  const rig = await startRig();
  const client = new Hl7Client({ host: "127.0.0.1", port: rig.port });
  try {
    const ids = Array.from({ length: 20 }, (_, i) => `HC${String(i).padStart(3, "0")}`);
    const sent = new Map<string, string>();
    for (const id of ids) {
      const msg = Hl7Message.parse(adt(id));
      sent.set(id, msg.toString());
      const ack = await client.sendAndWait(msg, { timeoutMs: 10_000 });
      assert.equal(ack.getSegment("MSA")?.getField(1)?.toString(), "AA", `ACK of ${id}`);
      assert.equal(ack.getSegment("MSA")?.getField(2)?.toString(), id);
      assert.equal(ack.getSegment("ERR"), undefined, "no ERR in an AA");
    }
    await assertStored(rig, ids);
    // What is stored is byte for byte what the client framed.
    const heads = await rig.store.peek(rig.queue, 100);
    for (const head of heads) {
      const record = await rig.store.getMessage(head.entry.messageId);
      assert.ok(record);
      assert.equal(dec.decode(await rig.store.getPayload(record)), sent.get(record.controlId!));
      assert.equal(record.messageType, "ADT^A01");
    }
    // Routed in the commit that stored them: each RECEIVE log is done, each SEND log waits.
    const { logs } = await listLogs(rig.store.kv, { type: "RECEIVE", limit: 500 });
    assert.equal(logs.length, 20);
    assert.ok(logs.every((l) => l.status === "SUCCEEDED" && l.dataModel === "PatientAdmin"));
    const sends = await listLogs(rig.store.kv, { type: "SEND", limit: 500 });
    assert.equal(sends.logs.length, 20);
    assert.ok(sends.logs.every((l) => l.status === "PENDING" && l.actorId === rig.queue));
    // One connection carried all 20.
    assert.equal(rig.log.lines.filter((l) => l.includes(" mllp.connection-opened ")).length, 1);
  } finally {
    await client.close();
    await rig.close();
  }
});

Deno.test("Hl7Client whose counter restarted: the new messages under MSH-10s it used before are all stored, none taken for a duplicate", async () => {
  const rig = await startRig();
  try {
    const ids = ["1", "2", "3", "4", "5"];
    for (const [run, extra] of [[1, ""], [2, " RESTARTED"]] as const) {
      const client = new Hl7Client({ host: "127.0.0.1", port: rig.port });
      try {
        for (const id of ids) {
          const ack = await client.sendAndWait(Hl7Message.parse(adt(id, extra)), {
            timeoutMs: 10_000,
          });
          assert.equal(ack.getSegment("MSA")?.getField(1)?.toString(), "AA", `run ${run}, ${id}`);
        }
      } finally {
        await client.close();
      }
    }
    await assertStored(rig, [...ids, ...ids]);
    assert.equal(rig.log.lines.filter((l) => l.includes(" mllp.control-id-reused ")).length, 5);
    assert.equal(rig.log.lines.filter((l) => l.includes(" mllp.duplicate ")).length, 0);
  } finally {
    await rig.close();
  }
});

Deno.test("Hl7Client from an address no integration claims is answered AR naming the address, closed, and nothing is stored", async () => {
  const rig = await startRig({ allowedIps: ["10.20.30.40"] });
  const client = new Hl7Client({ host: "127.0.0.1", port: rig.port });
  try {
    const ack = await client.sendAndWait(Hl7Message.parse(adt("STRANGER1")), { timeoutMs: 10_000 });
    assert.equal(ack.getSegment("MSA")?.getField(1)?.toString(), "AR");
    assert.equal(ack.getSegment("MSA")?.getField(2)?.toString(), "STRANGER1");
    const reason = `no integration accepts messages from 127.0.0.1 on port ${rig.port}`;
    assert.equal(ack.getSegment("ERR")?.getField(8)?.toString(), reason);
    await connectionsDrained(rig);
    assert.equal(rig.log.lines.filter((l) => l.includes(" mllp.unknown-sender ")).length, 1);
    await assertStored(rig, []);
    assert.equal((await rig.store.nonEmptyQueues()).size, 0, "no queue anywhere holds it");
  } finally {
    await client.close();
    await rig.close();
  }
});

Deno.test("raw sender from an unclaimed address pipelining 3 frames gets one AR naming the address, then the close", async () => {
  const rig = await startRig({ allowedIps: ["10.20.30.40"] });
  const sender = await RawMllpSender.connect(rig.port);
  try {
    await sender.write(concatBytes(...["U1", "U2", "U3"].map((id) => frameOf(adt(id)))));
    await sender.closedByPeer();
    assert.equal(sender.frames.length, 1, sender.frames.map(ackKey).join(", "));
    const ack = summarizeAck(sender.frames[0]!);
    assert.equal(ack.code, "AR");
    assert.equal(ack.msa2, "U1");
    assert.equal(ack.reason, `no integration accepts messages from 127.0.0.1 on port ${rig.port}`);
  } finally {
    await sender.close();
  }
  try {
    await connectionsDrained(rig);
    assert.equal(rig.log.lines.filter((l) => l.includes(" mllp.unknown-sender ")).length, 1);
    await assertStored(rig, []);
    assert.equal((await rig.store.nonEmptyQueues()).size, 0);
  } finally {
    await rig.close();
  }
});

// ---------------------------------------------------------------------------------------------
// 2. A frame split across writes
// ---------------------------------------------------------------------------------------------

Deno.test("raw sender: a ~300-byte frame split in two writes at every byte boundary is answered AA exactly once each time", async () => {
  const rig = await startRig();
  const sender = await RawMllpSender.connect(rig.port);
  try {
    const size = 300;
    const frameLen = frameOf(adtOfSize("SPLIT000", size)).length; // 303: VT + 300 + FS CR
    const ids: string[] = [];
    for (let k = 1; k < frameLen; k++) {
      const id = `SPLIT${String(k).padStart(3, "0")}`;
      const frame = frameOf(adtOfSize(id, size));
      assert.equal(frame.length, frameLen);
      const before = sender.frames.length;
      await sender.write(frame.subarray(0, k));
      await sleep(1); // its own TCP segment (no Nagle on either side)
      await sender.write(frame.subarray(k));
      const [reply] = await sender.frameCount(before + 1, before);
      assert.equal(ackKey(reply!), `AA:${id}`, `split at byte ${k}`);
      ids.push(id);
    }
    // Nothing answered twice, nothing else answered.
    ids.push(await fence(sender, frameLen - 1, "an extra answer"));
    assert.equal(sender.strayBytes, 0);
    await assertStored(rig, ids);
  } finally {
    await sender.close();
    await rig.close();
  }
  assert.equal(rig.log.lines.filter((l) => l.includes(" mllp.stray-bytes ")).length, 0);
});

Deno.test("raw sender: a frame written one byte per write is answered AA only once its final FS CR arrives", async () => {
  const rig = await startRig();
  const sender = await RawMllpSender.connect(rig.port);
  try {
    const frame = frameOf(adtOfSize("BYTE1", 300));
    for (let i = 0; i < frame.length - 1; i++) await sender.write(frame.subarray(i, i + 1));
    // Everything but the final CR: strict MLLP, the frame is not complete yet. Had the listener
    // ended it early (at FS, or before), it would answer more than once or count the CR as stray.
    await sender.write(frame.subarray(frame.length - 1));
    const [reply] = await sender.frameCount(1);
    assert.equal(ackKey(reply!), "AA:BYTE1");
    // The same connection keeps working afterwards, and nothing else was answered.
    assert.equal(ackKey(await sender.request(adt("BYTE2"))), "AA:BYTE2");
    const last = await fence(sender, 2, "an extra answer");
    await assertStored(rig, ["BYTE1", "BYTE2", last]);
  } finally {
    await sender.close();
    await rig.close();
  }
  await waitFor("the connection to end", () => rig.listener.connections === 0);
  assert.equal(rig.log.lines.filter((l) => l.includes(" mllp.stray-bytes ")).length, 0);
});

// ---------------------------------------------------------------------------------------------
// 3. Pipelining and garbage between frames
// ---------------------------------------------------------------------------------------------

Deno.test("raw sender: 10 frames pipelined in one write get 10 ACKs in the same order and nothing else", async () => {
  const rig = await startRig();
  const sender = await RawMllpSender.connect(rig.port);
  try {
    const ids = Array.from({ length: 10 }, (_, i) => `PIPE${String(i).padStart(2, "0")}`);
    await sender.write(concatBytes(...ids.map((id) => frameOf(adt(id)))));
    const replies = await sender.frameCount(10);
    assert.deepEqual(replies.map(ackKey), ids.map((id) => `AA:${id}`));
    ids.push(await fence(sender, 10, "no extra answer"));
    await assertStored(rig, ids);
  } finally {
    await sender.close();
    await rig.close();
  }
});

Deno.test("raw sender: garbage between pipelined frames is skipped and counted, every real frame is answered in order, nothing else", async () => {
  const rig = await startRig();
  const stored: string[] = [];
  let run = 0;
  let totalGarbage = 0;
  try {
    // Garbage never holds a start block (0x0B); it may hold FS, CR, "MSH|" or anything else.
    const garbage = fc.oneof(
      fc.constant(enc.encode("hello\r\n")),
      fc.constant(enc.encode("MSH|^~\\&|NOT|A|FRAME\r")),
      fc.constant(new Uint8Array([0x1c, 0x0d])),
      fc.uint8Array({ minLength: 0, maxLength: 80 }).map((b) => b.filter((x) => x !== 0x0b)),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(garbage, fc.boolean()), { minLength: 1, maxLength: 6 }),
        garbage,
        fc.array(fc.integer({ min: 1, max: 400 }), { maxLength: 4 }),
        async (pieces, tail, cuts) => {
          run++;
          const parts: Uint8Array[] = [];
          const ids: string[] = [];
          let garbageBytes = 0;
          pieces.forEach(([junk, withFrame], i) => {
            parts.push(junk);
            garbageBytes += junk.length;
            if (withFrame) {
              const id = `G${run}_${i}`;
              ids.push(id);
              parts.push(frameOf(adt(id)));
            }
          });
          parts.push(tail);
          garbageBytes += tail.length;
          totalGarbage += garbageBytes;
          const all = concatBytes(...parts);
          // Cut the byte stream into writes at arbitrary points.
          const points = [...new Set(cuts.map((c) => c % (all.length + 1)))].sort((a, b) => a - b);
          const chunks: Uint8Array[] = [];
          let from = 0;
          for (const p of [...points, all.length]) {
            if (p > from) chunks.push(all.subarray(from, p));
            from = Math.max(from, p);
          }
          const sender = await RawMllpSender.connect(rig.port);
          try {
            await sender.writeEach(chunks, 1);
            const replies = await sender.frameCount(ids.length);
            assert.deepEqual(replies.map(ackKey), ids.map((id) => `AA:${id}`));
            ids.push(await fence(sender, ids.length, "garbage is never answered"));
          } finally {
            await sender.close();
          }
          stored.push(...ids);
          // The listener counts the stray bytes when the connection ends.
          await waitFor("the connection to end", () => rig.listener.connections === 0);
          const lines = linesAbout(rig, "mllp.stray-bytes", sender.local);
          if (garbageBytes === 0) assert.equal(lines.length, 0);
          else {
            assert.equal(lines.length, 1, rig.log.lines.slice(-5).join("\n"));
            assert.match(lines[0]!, new RegExp(` bytes=${garbageBytes}$`));
          }
        },
      ),
      { numRuns: 12, seed: 4_2024 },
    );
    // The generated cases did exercise both garbage and frames.
    assert.ok(totalGarbage > 100 && stored.length >= 12, `${totalGarbage} ${stored.length}`);
    await assertStored(rig, stored);
  } finally {
    await rig.close();
  }
});

// ---------------------------------------------------------------------------------------------
// 4. Dropping the connection mid-frame
// ---------------------------------------------------------------------------------------------

Deno.test("raw sender: a connection dropped mid-frame stores nothing of the partial frame and the listener keeps serving", async () => {
  const rig = await startRig();
  try {
    // A partial frame alone, then the sender goes away.
    const lost = frameOf(adt("LOST1"));
    const half = Math.floor(lost.length / 2);
    const a = await RawMllpSender.connect(rig.port);
    await a.write(lost.subarray(0, half));
    await sleep(20);
    await a.close();
    await connectionsDrained(rig);
    await waitFor(
      "the truncated frame to be logged",
      () => linesAbout(rig, "mllp.truncated-frame", a.local).length === 1,
    );
    // The payload bytes received for the unfinished frame, start block excluded.
    assert.match(linesAbout(rig, "mllp.truncated-frame", a.local)[0]!, / bytes=\d+$/);
    assert.ok(
      linesAbout(rig, "mllp.truncated-frame", a.local)[0]!.endsWith(` bytes=${half - 1}`),
    );
    assert.equal(a.frames.length, 0, "a partial frame is never answered");
    await assertStored(rig, []);

    // A complete frame, then half of the next one, then the drop: the first is kept, once.
    const b = await RawMllpSender.connect(rig.port);
    const next = frameOf(adt("HALF1"));
    await b.write(concatBytes(frameOf(adt("KEEP1")), next.subarray(0, 40)));
    assert.equal(ackKey((await b.frameCount(1))[0]!), "AA:KEEP1");
    await b.close();
    await connectionsDrained(rig);
    await waitFor(
      "the truncated frame to be logged",
      () => linesAbout(rig, "mllp.truncated-frame", b.local).length === 1,
    );
    assert.equal(b.frames.length, 1);
    await assertStored(rig, ["KEEP1"]);

    // A new connection is served, and the half-sent message was never marked as seen.
    const c = await RawMllpSender.connect(rig.port);
    try {
      assert.equal(ackKey(await c.request(adt("HALF1"))), "AA:HALF1");
      assert.equal(ackKey(await c.request(adt("LOST1"))), "AA:LOST1");
    } finally {
      await c.close();
    }
    await assertStored(rig, ["KEEP1", "HALF1", "LOST1"]);
    assert.equal(rig.log.lines.filter((l) => l.includes(" mllp.duplicate ")).length, 0);
  } finally {
    await rig.close();
  }
});

Deno.test("raw sender: a sender that drops right after a complete frame has it stored once, and its resend is a duplicate", async () => {
  const rig = await startRig();
  try {
    const a = await RawMllpSender.connect(rig.port);
    await a.write(frameOf(adt("GONE1")));
    await a.close(); // before the ACK could come back
    await connectionsDrained(rig);
    await assertStored(rig, ["GONE1"]);
    const b = await RawMllpSender.connect(rig.port);
    try {
      assert.equal(ackKey(await b.request(adt("GONE1"))), "AA:GONE1");
    } finally {
      await b.close();
    }
    await assertStored(rig, ["GONE1"]);
    assert.equal(rig.log.lines.filter((l) => l.includes(" mllp.duplicate ")).length, 1);
  } finally {
    await rig.close();
  }
});

// ---------------------------------------------------------------------------------------------
// 5. Over-size frames
// ---------------------------------------------------------------------------------------------

Deno.test("raw sender: with maxHl7Bytes 4096 a frame of exactly 4096 bytes is AA and one of 4097 is AR naming the limit, then closed", async () => {
  const rig = await startRig({ maxHl7Bytes: 4096 });
  try {
    const a = await RawMllpSender.connect(rig.port);
    try {
      assert.equal(ackKey(await a.request(adtOfSize("FIT4096", 4096))), "AA:FIT4096");
      const before = a.frames.length;
      await a.write(frameOf(adtOfSize("BIG4097", 4097)));
      const [reply] = await a.frameCount(before + 1, before);
      const ack = summarizeAck(reply!);
      assert.equal(ack.code, "AR");
      assert.equal(ack.reason, "message larger than the limit of 4096 bytes; connection closed");
      await a.closedByPeer();
      assert.equal(a.frames.length, 2, "nothing after the AR");
    } finally {
      await a.close();
    }
    await connectionsDrained(rig);
    await assertStored(rig, ["FIT4096"]);
    const oversize = rig.log.lines.filter((l) => l.includes(" mllp.oversize "));
    assert.equal(oversize.length, 1);
    assert.match(oversize[0]!, / limit=4096$/);
  } finally {
    await rig.close();
  }
});

Deno.test("raw sender: an over-size frame pipelined between two good ones: AA for the first, AR for it, close, nothing after it stored; new connections still served", async () => {
  const rig = await startRig({ maxHl7Bytes: 4096 });
  try {
    const a = await RawMllpSender.connect(rig.port);
    try {
      await a.write(concatBytes(
        frameOf(adt("OK1")),
        frameOf(adt("HUGE1", "Y".repeat(8000))),
        frameOf(adt("AFTER1")),
      ));
      await a.closedByPeer();
      assert.equal(a.frames.length, 2, a.frames.map(ackKey).join(", "));
      assert.equal(ackKey(a.frames[0]!), "AA:OK1");
      const ar = summarizeAck(a.frames[1]!);
      assert.equal(ar.code, "AR");
      assert.match(ar.reason ?? "", /larger than the limit of 4096 bytes/);
    } finally {
      await a.close();
    }
    await connectionsDrained(rig);
    await assertStored(rig, ["OK1"]);
    // The listener is still up: several new connections, one after the other.
    for (const id of ["NEW1", "NEW2", "NEW3"]) {
      const s = await RawMllpSender.connect(rig.port);
      try {
        assert.equal(ackKey(await s.request(adt(id))), `AA:${id}`);
      } finally {
        await s.close();
      }
    }
    // AFTER1 was never answered, so it was never accepted: the sender's resend is new.
    const s = await RawMllpSender.connect(rig.port);
    try {
      assert.equal(ackKey(await s.request(adt("AFTER1"))), "AA:AFTER1");
    } finally {
      await s.close();
    }
    await assertStored(rig, ["OK1", "NEW1", "NEW2", "NEW3", "AFTER1"]);
    assert.equal(rig.log.lines.filter((l) => l.includes(" mllp.duplicate ")).length, 0);
  } finally {
    await rig.close();
  }
});

Deno.test("raw sender: a 1 MB frame against maxHl7Bytes 4096, written in one go, still gets the AR before the close", async () => {
  const rig = await startRig({ maxHl7Bytes: 4096 });
  try {
    for (let i = 0; i < 3; i++) {
      const s = await RawMllpSender.connect(rig.port);
      try {
        try {
          await s.write(frameOf(adt(`MEGA${i}`, "Q".repeat(1_000_000))));
        } catch (error) {
          // The engine may close while the sender is still writing: that is the sender's problem.
          assert.ok(
            error instanceof Deno.errors.BrokenPipe ||
              error instanceof Deno.errors.ConnectionReset,
            String(error),
          );
        }
        await s.closedByPeer();
        assert.equal(s.frames.length, 1);
        const ack = summarizeAck(s.frames[0]!);
        assert.equal(ack.code, "AR");
        assert.match(ack.reason ?? "", /larger than the limit of 4096 bytes/);
      } finally {
        await s.close();
      }
    }
    await connectionsDrained(rig);
    await assertStored(rig, []);
    assert.equal(
      ackKey(
        await (async () => {
          const s = await RawMllpSender.connect(rig.port);
          try {
            return await s.request(adt("SMALL1"));
          } finally {
            await s.close();
          }
        })(),
      ),
      "AA:SMALL1",
    );
    await assertStored(rig, ["SMALL1"]);
  } finally {
    await rig.close();
  }
});

// ---------------------------------------------------------------------------------------------
// 6. Dedupe through the wire
// ---------------------------------------------------------------------------------------------

Deno.test("raw sender: the same MSH-10 sent twice gets byte-identical ACKs and is stored once, on the same or a new connection", async () => {
  const rig = await startRig();
  try {
    const a = await RawMllpSender.connect(rig.port);
    let first: Uint8Array;
    try {
      first = await a.request(adt("DUP1"));
      assert.equal(ackKey(first), "AA:DUP1");
      const again = await a.request(adt("DUP1"));
      assert.deepEqual(again, first, "the stored ACK, not a fresh one");
      // Another message in between is not affected.
      assert.equal(ackKey(await a.request(adt("OTHER1"))), "AA:OTHER1");
    } finally {
      await a.close();
    }
    const b = await RawMllpSender.connect(rig.port);
    try {
      assert.deepEqual(await b.request(adt("DUP1")), first);
      // Pipelined: the copy right behind the original is a duplicate as well.
      await b.write(concatBytes(frameOf(adt("DUP2")), frameOf(adt("DUP2"))));
      const [x, y] = await b.frameCount(3, 1);
      assert.equal(ackKey(x!), "AA:DUP2");
      assert.deepEqual(y, x);
    } finally {
      await b.close();
    }
    await assertStored(rig, ["DUP1", "OTHER1", "DUP2"]);
    assert.equal(rig.log.lines.filter((l) => l.includes(" mllp.duplicate ")).length, 3);
  } finally {
    await rig.close();
  }
});

Deno.test("raw sender: another message under an MSH-10 already stored (a reused control id) is stored, answered with its own AA and logged naming both", async () => {
  const rig = await startRig();
  try {
    const a = await RawMllpSender.connect(rig.port);
    let second: Uint8Array;
    try {
      const first = await a.request(adt("REUSE1"));
      assert.equal(ackKey(first), "AA:REUSE1");
      // The sender's counter restarted: a new patient under an MSH-10 it used before.
      second = await a.request(adt("REUSE1", " SMITH"));
      assert.equal(ackKey(second), "AA:REUSE1");
      assert.notDeepEqual(second, first, "its own ACK, not the first message's");
      // Its resend is its duplicate: the MSH-10 names the newer message now.
      assert.deepEqual(await a.request(adt("REUSE1", " SMITH")), second);
    } finally {
      await a.close();
    }
    await assertStored(rig, ["REUSE1", "REUSE1"]);
    const [one, two] = await rig.store.peek(rig.queue, 2);
    assert.deepEqual(await queuedTexts(rig), [adt("REUSE1"), adt("REUSE1", " SMITH")]);
    const warned = rig.log.lines.filter((l) => l.includes(" mllp.control-id-reused "));
    assert.equal(warned.length, 1, warned.join("\n"));
    assert.match(warned[0]!, /WARN/);
    assert.ok(warned[0]!.includes(one!.entry.messageId), "names the earlier message");
    assert.ok(warned[0]!.includes(two!.entry.messageId), "names the new message");
    assert.equal(rig.log.lines.filter((l) => l.includes(" mllp.duplicate ")).length, 1);
  } finally {
    await rig.close();
  }
});

Deno.test("raw sender: a resend rebuilt with a new MSH-7 (send time) is a duplicate", async () => {
  const rig = await startRig();
  const a = await RawMllpSender.connect(rig.port);
  try {
    const first = await a.request(adt("STAMP1"));
    const rebuilt = adt("STAMP1").replace("|20240315123000||ADT^A01", "|20240315123507||ADT^A01");
    assert.notEqual(rebuilt, adt("STAMP1"));
    assert.deepEqual(await a.request(rebuilt), first);
    await assertStored(rig, ["STAMP1"]);
    assert.equal(rig.log.lines.filter((l) => l.includes(" mllp.control-id-reused ")).length, 0);
  } finally {
    await a.close();
    await rig.close();
  }
});

Deno.test("raw sender: two messages under one MSH-10 sent on two connections at once are both stored and answered AA", async () => {
  const rig = await startRig();
  const a = await RawMllpSender.connect(rig.port);
  const b = await RawMllpSender.connect(rig.port);
  try {
    const ids = Array.from({ length: 6 }, (_, i) => `TWIN${i}`);
    for (const id of ids) {
      const [ra, rb] = await Promise.all([a.request(adt(id)), b.request(adt(id, " TWIN"))]);
      assert.equal(ackKey(ra), `AA:${id}`);
      assert.equal(ackKey(rb), `AA:${id}`);
      assert.notDeepEqual(ra, rb);
    }
    await assertStored(rig, ids.flatMap((id) => [id, id]));
    const texts = new Set(await queuedTexts(rig));
    for (const id of ids) assert.ok(texts.has(adt(id)) && texts.has(adt(id, " TWIN")), id);
    const warned = rig.log.lines.filter((l) => l.includes(" mllp.control-id-reused "));
    assert.equal(warned.length, ids.length);
  } finally {
    await a.close();
    await b.close();
    await rig.close();
  }
});

Deno.test("raw sender: a repeated large (chunked) message gets the same ACK and is stored once", async () => {
  const rig = await startRig();
  const sender = await RawMllpSender.connect(rig.port);
  try {
    const big = adt("BIGDUP1", "Z".repeat(200 * 1024)); // over the inline size: stored in chunks
    const first = await sender.request(big);
    assert.equal(ackKey(first), "AA:BIGDUP1");
    assert.deepEqual(await sender.request(big), first);
    await assertStored(rig, ["BIGDUP1"]);
    const [head] = await rig.store.peek(rig.queue);
    const record = await rig.store.getMessage(head!.entry.messageId);
    assert.equal(dec.decode(await rig.store.getPayload(record!)), big);
  } finally {
    await sender.close();
    await rig.close();
  }
});

Deno.test("raw sender: the same MSH-10 sent on two connections at once is answered AA on both and stored once", async () => {
  const rig = await startRig();
  const a = await RawMllpSender.connect(rig.port);
  const b = await RawMllpSender.connect(rig.port);
  try {
    const ids = Array.from({ length: 8 }, (_, i) => `RACE${i}`);
    for (const id of ids) {
      const [ra, rb] = await Promise.all([a.request(adt(id)), b.request(adt(id))]);
      assert.equal(ackKey(ra), `AA:${id}`);
      assert.equal(ackKey(rb), `AA:${id}`);
    }
    await assertStored(rig, ids);
    assert.equal(rig.log.lines.filter((l) => l.includes(" mllp.duplicate ")).length, ids.length);
  } finally {
    await a.close();
    await b.close();
    await rig.close();
  }
});

Deno.test({
  name:
    "raw sender: the same MSH-10 sent on two connections at once gets byte-identical ACKs (the stored one)",
  async fn() {
    const rig = await startRig();
    const a = await RawMllpSender.connect(rig.port);
    const b = await RawMllpSender.connect(rig.port);
    try {
      for (const id of ["SAME1", "SAME2", "SAME3", "SAME4"]) {
        const [ra, rb] = await Promise.all([a.request(adt(id)), b.request(adt(id))]);
        assert.deepEqual(rb, ra, `ACKs of ${id}`);
        assert.deepEqual(await a.request(adt(id)), ra, `stored ACK of ${id}`);
      }
    } finally {
      await a.close();
      await b.close();
      await rig.close();
    }
  },
});
