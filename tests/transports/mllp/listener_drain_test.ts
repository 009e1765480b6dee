/**
 * An MLLP listener's drain (`MllpServer.drain`, the first step of the engine's graceful stop), on
 * every listener kind: a frame the inbox is working on when the drain begins gets its answer; a
 * frame completed after it gets `AE` "the engine is stopping" and never reaches the inbox; the
 * connection then ends with an orderly EOF (TLS close_notify and FIN), not a reset; a sender that
 * pipelined far more frames than the listener reads ahead gets its answers in order, an `AA` only
 * for frames the inbox took. Real loopback sockets; the inbox answers `AA` behind a gate.
 * @module
 */

import assert from "node:assert/strict";
import { buildAck, buildNakForUnparsable, parseHl7 } from "../../../codecs/hl7v2/mod.ts";
import { encodeMllp, MllpDecoder } from "../../../codecs/mllp/mod.ts";
import type { MllpInbox } from "../../../actors/ports.ts";
import { memoryLogger } from "../../../actors/runtime/log.ts";
import { adt, waitFor } from "../../helpers/net.ts";
import { summarizeAck } from "../../helpers/raw_sender.ts";
import { type ListenerKind, type Rig, startRig } from "./peers.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** An inbox that records each frame's MSH-10 and answers `AA` once `release()` was called. */
function gatedInbox() {
  const taken: string[] = [];
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const inbox: MllpInbox = {
    maxFrameBytes: 1 << 20,
    idleTimeoutMs: () => 60_000,
    oversize: () => enc.encode(buildNakForUnparsable({ reason: "too large" }).encode()),
    receive: async (f) => {
      const msg = parseHl7(dec.decode(f.payload));
      taken.push(msg.get("MSH-10") ?? "");
      await gate;
      return { reply: enc.encode(buildAck(msg, { code: "AA" }).encode()) };
    },
  };
  return { inbox, taken, release };
}

/** A client connection to `rig` (TLS when it is). */
async function connectTo(rig: Rig): Promise<Deno.Conn> {
  const t = rig.tls;
  if (!t) return await Deno.connect({ hostname: "127.0.0.1", port: rig.server.port });
  const conn = await Deno.connectTls({
    hostname: "localhost",
    port: rig.server.port,
    caCerts: [t.ca],
    ...(t.cert && t.key ? { cert: t.cert, key: t.key } : {}),
  });
  await conn.handshake();
  return conn;
}

/** Every frame `conn` reads until the peer ends the connection, and how it ended. */
async function readAll(conn: Deno.Conn): Promise<{ frames: Uint8Array[]; error?: unknown }> {
  const decoder = new MllpDecoder();
  const frames: Uint8Array[] = [];
  const buf = new Uint8Array(64 * 1024);
  try {
    while (true) {
      const n = await conn.read(buf);
      if (n === null) return { frames };
      for (const e of decoder.push(buf.slice(0, n))) if (e.type === "frame") frames.push(e.payload);
    }
  } catch (error) {
    return { frames, error };
  }
}

for (const kind of ["tcp", "tls", "mtls"] as ListenerKind[]) {
  Deno.test(`MLLP listener (${kind}) drain: the frame being handled gets its AA, one completed after the drain began gets AE 'stopping' without reaching the inbox, then an orderly EOF`, async () => {
    const log = memoryLogger();
    const { inbox, taken, release } = gatedInbox();
    const rig = await startRig(kind, { inbox, log });
    const conn = await connectTo(rig);
    try {
      const reading = readAll(conn);
      await conn.write(encodeMllp(adt("D1")));
      await waitFor("the inbox to take D1", () => taken.length === 1);
      assert.equal(rig.server.unanswered, 1);
      const drained = rig.server.drain(performance.now() + 10_000);
      await conn.write(encodeMllp(adt("D2")));
      await waitFor("D2 read", () => rig.server.unanswered === 2);
      release();
      const { frames, error } = await reading;
      assert.equal(error, undefined, "an orderly end, not a reset");
      assert.deepEqual(
        frames.map((f) => summarizeAck(f)).map((a) => [a.code, a.msa2]),
        [["AA", "D1"], ["AE", "D2"]],
      );
      assert.match(summarizeAck(frames[1]!).reason ?? "", /engine is stopping/);
      assert.deepEqual(taken, ["D1"]);
      // The peer closes on our EOF: the drain ends then, not at the grace.
      conn.close();
      assert.deepEqual(await drained, {
        port: rig.server.port,
        connections: 1,
        answered: 1,
        refused: 1,
        unanswered: 0,
        senders: 0,
      });
      assert.equal(rig.server.connections, 0);
    } finally {
      release();
      try {
        conn.close();
      } catch { /* closed above */ }
      await rig.close();
    }
  });
}

Deno.test("MLLP listener drain: a sender that pipelined 500 frames gets its answers in order, AA only for the frames the inbox took, AE for the ones read after the drain began, then EOF", async () => {
  const log = memoryLogger();
  const { inbox, taken, release } = gatedInbox();
  const rig = await startRig("tcp", { inbox, log });
  const conn = await connectTo(rig);
  try {
    const reading = readAll(conn);
    const ids = Array.from({ length: 500 }, (_, i) => `P${i}`);
    const writing = (async () => {
      const all = ids.map((id) => encodeMllp(adt(id)));
      const bytes = new Uint8Array(all.reduce((n, f) => n + f.length, 0));
      let off = 0;
      for (const f of all) {
        bytes.set(f, off);
        off += f.length;
      }
      off = 0;
      try {
        while (off < bytes.length) off += await conn.write(bytes.subarray(off));
      } catch { /* the engine ended the connection before taking all of it */ }
    })();
    // The listener reads ahead at most its bound: it stops there until answers go out.
    await waitFor("the inbox to take the first", () => taken.length === 1);
    await waitFor("the read-ahead bound", () => rig.server.unanswered >= 64);
    const drained = rig.server.drain(performance.now() + 10_000);
    release();
    const { frames, error } = await reading;
    conn.close();
    await writing;
    await drained;
    assert.equal(error, undefined, "an orderly end, not a reset");
    const acks = frames.map((f) => summarizeAck(f));
    // In order, one answer per frame from the first, no gap.
    assert.deepEqual(acks.map((a) => a.msa2), ids.slice(0, acks.length));
    const aa = acks.filter((a) => a.code === "AA").map((a) => a.msa2);
    assert.deepEqual(aa, taken, "AA exactly for the frames the inbox took");
    assert.ok(aa.length >= 64, `${aa.length} AA: the frames read before the drain`);
    assert.ok(acks.slice(aa.length).every((a) => a.code === "AE"), JSON.stringify(acks));
  } finally {
    release();
    try {
      conn.close();
    } catch { /* closed above */ }
    await rig.close();
  }
});
