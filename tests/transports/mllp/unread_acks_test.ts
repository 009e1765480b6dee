/**
 * Push-back on the inbound MLLP connection (red-team finding F3): a sender that pipelines frames
 * and never reads its ACKs must stop being read once `MAX_UNANSWERED_FRAMES` frames wait for their
 * answer, instead of having everything it sends held in memory; a sender that never reads and goes
 * quiet is closed after the idle timeout although its answers can never be written; and a sender
 * that pipelines and reads is still answered in full, in order.
 *
 * Real loopback sockets. The connection handler runs on the accepted socket behind a counting
 * wrapper (bytes the engine read, whether a read is pending, answers written), or behind the real
 * listener; the inbox records each frame's MSH-10 in the order it is handed over and answers `AA`,
 * padded when the test needs answers that fill the socket buffers quickly.
 * @module
 */

import assert from "node:assert/strict";
import { buildAck, parseHl7 } from "../../../codecs/hl7v2/mod.ts";
import { encodeMllp, MllpDecoder } from "../../../codecs/mllp/mod.ts";
import type { MllpInbox } from "../../../actors/ports.ts";
import { memoryLogger } from "../../../actors/runtime/log.ts";
import {
  handleInboundConnection,
  MAX_UNANSWERED_FRAMES,
} from "../../../transports/mllp/inbound_connection.ts";
import type { ByteConn } from "../../../transports/mllp/node_tls.ts";
import { adt, waitFor } from "../../helpers/net.ts";
import { ackKey, concatBytes, RawMllpSender } from "../../helpers/raw_sender.ts";
import { startRig } from "./peers.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** The handler reads at most this much at a time (its read buffer). */
const READ_CHUNK = 64 * 1024;

/** An ADT with control id `id` whose frame (VT payload FS CR) is exactly `frameBytes` long. */
function fixedFrame(id: string, frameBytes: number): Uint8Array {
  const base = enc.encode(adt(id)).length + 3;
  assert.ok(frameBytes >= base, `frame of ${frameBytes} bytes below the bare message (${base})`);
  const frame = encodeMllp(adt(id, "X".repeat(frameBytes - base)));
  assert.equal(frame.length, frameBytes);
  return frame;
}

/** Control ids `${prefix}000000`… of the same length, so their frames are the same size. */
function ids(prefix: string, count: number): string[] {
  return Array.from({ length: count }, (_, i) => `${prefix}${String(i).padStart(6, "0")}`);
}

/**
 * An inbox that records the MSH-10 of every frame in the order it is handed over and answers `AA`
 * with an NTE of `replyPadding` bytes; `delay(i)` ms before the answer to the i-th frame (0: none).
 */
function recordingInbox(
  options: { idleMs?: number; replyPadding?: number; delay?: (i: number) => number } = {},
): MllpInbox & { received: string[] } {
  const received: string[] = [];
  const padding = options.replyPadding ? `\rNTE|1||${"Y".repeat(options.replyPadding)}` : "";
  return {
    received,
    maxFrameBytes: 1 << 20,
    idleTimeoutMs: () => options.idleMs ?? 30_000,
    oversize: () => enc.encode("MSH|^~\\&|E|E|S|S|20260101||ACK|1|P|2.5\rMSA|AR|"),
    receive: async (f) => {
      const message = parseHl7(dec.decode(f.payload));
      const i = received.push(message.get("MSH-10") ?? "<none>") - 1;
      const delay = options.delay?.(i) ?? 0;
      if (delay > 0) await new Promise((r) => setTimeout(r, delay));
      return { reply: enc.encode(buildAck(message, { code: "AA" }).encode() + padding) };
    },
  };
}

/** A socket as the handler sees it, counting what passes through. */
interface CountingConn extends ByteConn {
  /** Bytes the handler has read. */
  bytesRead: number;
  /** A read of the handler is waiting for data (false while it does not read). */
  reading: boolean;
  /** Writes of the handler that completed (one per answer for answers of one write). */
  writes: number;
  /** Called after every read that returned data. */
  onRead?: () => void;
}

function counting(conn: Deno.TcpConn): CountingConn {
  const c: CountingConn = {
    bytesRead: 0,
    reading: false,
    writes: 0,
    remoteAddr: conn.remoteAddr,
    async read(p) {
      c.reading = true;
      try {
        const n = await conn.read(p);
        if (n !== null) {
          c.bytesRead += n;
          c.onRead?.();
        }
        return n;
      } finally {
        c.reading = false;
      }
    },
    async write(p) {
      const n = await conn.write(p);
      c.writes++;
      return n;
    },
    closeWrite: () => conn.closeWrite(),
    close: () => conn.close(),
    setNoDelay: (on) => conn.setNoDelay(on),
  };
  return c;
}

/** A client connected to a handler running on the accepted end of a loopback connection. */
interface Direct {
  client: Deno.TcpConn;
  server: CountingConn;
  /** Ends when the handler is done with the connection. */
  handled: Promise<void>;
  log: ReturnType<typeof memoryLogger>;
}

async function direct(inbox: MllpInbox): Promise<Direct> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const accepted = listener.accept();
    const client = await Deno.connect({
      hostname: "127.0.0.1",
      port: (listener.addr as Deno.NetAddr).port,
    });
    client.setNoDelay(true);
    const server = counting(await accepted);
    const log = memoryLogger();
    const addr = client.localAddr as Deno.NetAddr;
    const handled = handleInboundConnection({
      conn: server,
      localPort: (listener.addr as Deno.NetAddr).port,
      peerIp: addr.hostname,
      peerPort: addr.port,
      inbox,
      log,
      requireFinalCr: true,
      frameTimeoutMs: 30_000,
      oversizeDrainMs: 1_000,
    });
    return { client, server, handled, log };
  } finally {
    listener.close();
  }
}

/** Writes each frame with its own write call; `progress.frames` counts those written in full. */
async function writeFrames(
  conn: Deno.Conn,
  frames: Uint8Array[],
  progress: { frames: number },
): Promise<void> {
  for (const frame of frames) {
    let off = 0;
    while (off < frame.length) off += await conn.write(frame.subarray(off));
    progress.frames++;
  }
}

/** Reads `count` frames from `conn` and returns `code:msa2` of each. */
async function readAcks(conn: Deno.Conn, count: number): Promise<string[]> {
  const decoder = new MllpDecoder({ maxFrameBytes: 1 << 20 });
  const keys: string[] = [];
  const buf = new Uint8Array(256 * 1024);
  const deadline = Date.now() + 30_000;
  while (keys.length < count) {
    assert.ok(Date.now() < deadline, `timed out reading ACKs (${keys.length} of ${count})`);
    const n = await conn.read(buf);
    if (n === null) break;
    for (const e of decoder.push(buf.slice(0, n))) {
      if (e.type === "frame") keys.push(ackKey(e.payload));
    }
  }
  return keys;
}

/** Lines of `event` in the log. */
function linesOf(log: { lines: string[] }, event: string): string[] {
  return log.lines.filter((l) => l.includes(` ${event} `) || l.endsWith(` ${event}`));
}

Deno.test("a sender that pipelines 1,000 frames and never reads its ACKs stops being read at the bound while it keeps writing; once it reads, every frame is answered in order and handed over", async () => {
  const FRAME = 2048;
  // 32 KiB answers: a few hundred fill the socket buffers, after which no answer can be written.
  const inbox = recordingInbox({ replyPadding: 32 * 1024 });
  const d = await direct(inbox);
  const sent = ids("U", 1_000);
  const progress = { frames: 0 };
  const writing = writeFrames(d.client, sent.map((id) => fixedFrame(id, FRAME)), progress);
  try {
    // The handler waits for a read whenever it is willing to take more: not reading with data
    // sent means it has stopped reading. It also pauses for a moment whenever the answers fall
    // behind the reads; the pause that lasts is the one the sender writes on through.
    const deadline = Date.now() + 20_000;
    for (let stopped = false; !stopped;) {
      assert.ok(Date.now() < deadline, "the engine never stopped reading for good");
      await waitFor(
        "the engine to stop reading",
        () => !d.server.reading && d.server.bytesRead > 0,
      );
      const readThen = d.server.bytesRead;
      const framesRead = Math.floor(readThen / FRAME);
      // Handed over: the frames answered, plus one whose answer is being written.
      const unanswered = framesRead - inbox.received.length;
      assert.ok(
        unanswered <= MAX_UNANSWERED_FRAMES + Math.ceil(READ_CHUNK / FRAME),
        `${unanswered} frames read and not handed over (${framesRead} read)`,
      );
      // The sender goes on writing: the engine takes nothing of it.
      await waitFor(
        "the sender to write 300 frames more than the engine read, or the engine to read again",
        () => progress.frames >= framesRead + 300 || d.server.bytesRead !== readThen,
      );
      stopped = d.server.bytesRead === readThen && !d.server.reading;
    }
    const framesRead = Math.floor(d.server.bytesRead / FRAME);
    assert.ok(
      progress.frames >= framesRead + 300,
      `${progress.frames} written, ${framesRead} read`,
    );

    // Now it reads: every frame is answered, in order, and all were handed over in order.
    const acks = await readAcks(d.client, sent.length);
    await writing;
    assert.deepEqual(acks, sent.map((id) => `AA:${id}`));
    assert.deepEqual(inbox.received, sent);
    d.client.close();
    await d.handled;
    assert.deepEqual(linesOf(d.log, "mllp.reply-failed"), []);
    assert.deepEqual(linesOf(d.log, "mllp.connection-error"), []);
  } finally {
    try {
      d.client.close();
    } catch { /* closed above */ }
    await writing.catch(() => {});
    await d.handled;
  }
});

for (const kind of ["tcp", "tls", "mtls"] as const) {
  Deno.test(`MLLP listener (${kind}): a sender that never reads its ACKs and goes quiet is closed after the idle timeout, its frames handed over, with mllp.idle-close naming the unanswered count`, async () => {
    const log = memoryLogger();
    const inbox = recordingInbox({ idleMs: 300, replyPadding: 32 * 1024 });
    const rig = await startRig(kind, { inbox, log });
    const t = rig.tls;
    const client = t
      ? await Deno.connectTls({
        hostname: "localhost",
        port: rig.server.port,
        caCerts: [t.ca],
        ...(t.cert && t.key ? { cert: t.cert, key: t.key } : {}),
      })
      : await Deno.connect({ hostname: "127.0.0.1", port: rig.server.port });
    try {
      if (t) await (client as Deno.TlsConn).handshake();
      // 400 answers of 32 KiB (12.8 MB) cannot all fit in the socket buffers of a peer that reads
      // nothing: the engine's writes block for good.
      const sent = ids("Q", 400);
      await writeFrames(client, sent.map((id) => fixedFrame(id, 1024)), { frames: 0 });
      const quietSince = Date.now();
      await waitFor("the engine to take frames", () => inbox.received.length > 0);
      await waitFor("the listener to close the connection", () => rig.server.connections === 0);
      const quietMs = Date.now() - quietSince;
      assert.ok(
        quietMs >= 250,
        `closed ${quietMs} ms after the last write, before the idle timeout`,
      );
      const [line, ...more] = linesOf(log, "mllp.idle-close");
      assert.equal(more.length, 0, log.lines.join("\n"));
      assert.match(line ?? "", / peer=127\.0\.0\.1 .*idleMs=300 unanswered=(\d+)/);
      const unanswered = Number(/unanswered=(\d+)/.exec(line!)![1]);
      assert.ok(unanswered >= 1 && unanswered <= MAX_UNANSWERED_FRAMES, line);
      assert.deepEqual(linesOf(log, "mllp.reply-failed"), []);
      // What was read was handed over in order (stored, for an engine), answered or not.
      assert.ok(inbox.received.length < sent.length, `all ${sent.length} handed over`);
      assert.deepEqual(inbox.received, sent.slice(0, inbox.received.length));
      // The client then reads the answers that went out, in order, and the end.
      const decoder = new MllpDecoder({ maxFrameBytes: 1 << 20 });
      const buf = new Uint8Array(256 * 1024);
      const answers: string[] = [];
      const deadline = Date.now() + 10_000;
      try {
        for (let n = await client.read(buf); n !== null; n = await client.read(buf)) {
          for (const e of decoder.push(buf.slice(0, n))) {
            if (e.type === "frame") answers.push(ackKey(e.payload));
          }
          assert.ok(Date.now() < deadline, "timed out reading to the end");
        }
      } catch (error) {
        // A reset, or a TLS end without close_notify: the engine closed with answers unsent.
        if (error instanceof assert.AssertionError) throw error;
      }
      assert.ok(answers.length <= inbox.received.length);
      assert.deepEqual(answers, inbox.received.slice(0, answers.length).map((id) => `AA:${id}`));
    } finally {
      try {
        client.close();
      } catch { /* already closed */ }
      await rig.close();
    }
  });
}

Deno.test("2,000 frames pipelined in one write and read meanwhile are all answered in order, with never more than the bound read and unanswered", async () => {
  const FRAME = 300;
  // A 2 ms pause every 100th frame: the inbox falls behind the reads, as a busy store does.
  const inbox = recordingInbox({ delay: (i) => (i % 100 === 99 ? 2 : 0) });
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted = listener.accept();
  const sender = await RawMllpSender.connect((listener.addr as Deno.NetAddr).port);
  const server = counting(await accepted);
  listener.close();
  let most = 0;
  server.onRead = () => {
    most = Math.max(most, Math.floor(server.bytesRead / FRAME) - server.writes);
  };
  const log = memoryLogger();
  const handled = handleInboundConnection({
    conn: server,
    localPort: 0,
    peerIp: "127.0.0.1",
    peerPort: 0,
    inbox,
    log,
    requireFinalCr: true,
    frameTimeoutMs: 30_000,
    oversizeDrainMs: 1_000,
  });
  try {
    const sent = ids("P", 2_000);
    await sender.write(concatBytes(...sent.map((id) => fixedFrame(id, FRAME))));
    const acks = await sender.frameCount(sent.length, 0, 30_000);
    assert.deepEqual(acks.map(ackKey), sent.map((id) => `AA:${id}`));
    assert.equal(sender.strayBytes, 0);
    assert.deepEqual(inbox.received, sent);
    assert.ok(
      most <= MAX_UNANSWERED_FRAMES + Math.ceil(READ_CHUNK / FRAME),
      `${most} frames read and not answered at once`,
    );
  } finally {
    await sender.close();
    await handled;
  }
  assert.deepEqual(linesOf(log, "mllp.reply-failed"), []);
});
