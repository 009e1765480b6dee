/**
 * An idle MLLP connection holds a small read buffer (red team 7, F5: 64 KiB each before the first
 * byte, ~60 MiB for the 1,000 idle connections a listener allows): the read a connection waits
 * on is at most 4 KiB until the peer sends more than that at once; a large frame is then read
 * 64 KiB at a time (one read more than before, no slower) and arrives whole; a peer back to small
 * frames gets the small buffer again. Inbound (the listener's connection handler) and outbound
 * (the destination's connection) alike. Real loopback sockets, behind a wrapper noting the size
 * of each read's buffer; and the memory 300 idle inbound connections take.
 * @module
 */

import assert from "node:assert/strict";
import { buildAck, parseHl7 } from "../../../codecs/hl7v2/mod.ts";
import { encodeMllp, MllpDecoder } from "../../../codecs/mllp/mod.ts";
import type { MllpInbox } from "../../../actors/ports.ts";
import { memoryLogger } from "../../../actors/runtime/log.ts";
import { SocketMllpConnection } from "../../../transports/mllp/connection.ts";
import { handleInboundConnection } from "../../../transports/mllp/inbound_connection.ts";
import type { ByteConn } from "../../../transports/mllp/node_tls.ts";
import {
  FIRST_READ_BYTES,
  FULL_READ_BYTES,
  SHRINK_AFTER_SHORT_READS,
} from "../../../transports/mllp/read_buffer.ts";
import { adt, waitFor } from "../../helpers/net.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** An inbox answering AA; `received` lists each frame's payload length. */
function answeringInbox(): MllpInbox & { received: number[] } {
  const received: number[] = [];
  return {
    received,
    maxFrameBytes: 1 << 20,
    idleTimeoutMs: () => 60_000,
    oversize: () => enc.encode("MSH|^~\\&|E|E|S|S|20260101||ACK|1|P|2.5\rMSA|AR|"),
    receive: (f) => {
      received.push(f.payload.length);
      const message = parseHl7(dec.decode(f.payload));
      return Promise.resolve({ reply: enc.encode(buildAck(message, { code: "AA" }).encode()) });
    },
  };
}

/** A socket noting the size of the buffer of each read, and whether one is pending. */
interface SizingConn extends ByteConn {
  sizes: number[];
  reading: boolean;
}

function sizing(conn: Deno.TcpConn): SizingConn {
  const c: SizingConn = {
    sizes: [],
    reading: false,
    remoteAddr: conn.remoteAddr,
    async read(p) {
      c.sizes.push(p.length);
      c.reading = true;
      try {
        return await conn.read(p);
      } finally {
        c.reading = false;
      }
    },
    write: (p) => conn.write(p),
    closeWrite: () => conn.closeWrite(),
    close: () => conn.close(),
    setNoDelay: (on) => conn.setNoDelay(on),
  };
  return c;
}

/** A loopback pair: the client end, and the accepted end. */
async function pair(): Promise<{ client: Deno.TcpConn; server: Deno.TcpConn }> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const accepted = listener.accept();
    const client = await Deno.connect({
      hostname: "127.0.0.1",
      port: (listener.addr as Deno.NetAddr).port,
    });
    return { client, server: await accepted };
  } finally {
    listener.close();
  }
}

/** Serves the accepted end of a fresh pair with the inbound handler. */
async function inbound(inbox: MllpInbox, wrap: (c: Deno.TcpConn) => ByteConn = (c) => c) {
  const { client, server } = await pair();
  const addr = client.localAddr as Deno.NetAddr;
  const handled = handleInboundConnection({
    conn: wrap(server),
    localPort: (server.localAddr as Deno.NetAddr).port,
    peerIp: addr.hostname,
    peerPort: addr.port,
    inbox,
    log: memoryLogger(),
    requireFinalCr: true,
    frameTimeoutMs: 30_000,
    oversizeDrainMs: 1_000,
  });
  return { client, handled };
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  for (let off = 0; off < bytes.length;) off += await conn.write(bytes.subarray(off));
}

/** Reads one MLLP frame from `conn`. */
async function readFrame(conn: Deno.Conn): Promise<string> {
  const decoder = new MllpDecoder({ maxFrameBytes: 1 << 20 });
  const buf = new Uint8Array(64 * 1024);
  while (true) {
    const n = await conn.read(buf);
    assert.ok(n !== null, "closed before a frame");
    for (const e of decoder.push(buf.slice(0, n))) {
      if (e.type === "frame") return dec.decode(e.payload);
    }
  }
}

Deno.test("an idle inbound MLLP connection waits on a small read buffer; a large frame is read 64 KiB at a time and arrives whole; small frames bring the small buffer back", async () => {
  const inbox = answeringInbox();
  let conn: SizingConn | undefined;
  const { client, handled } = await inbound(inbox, (c) => conn = sizing(c));
  try {
    await waitFor("the first read pending", () => conn!.reading);
    assert.deepEqual(conn!.sizes, [FIRST_READ_BYTES], "before any byte: the small buffer");

    const big = encodeMllp(adt("BIG1", "X".repeat(300_000)));
    await writeAll(client, big);
    assert.match(await readFrame(client), /MSA\|AA\|BIG1/);
    assert.equal(inbox.received.length, 1);
    assert.equal(inbox.received[0], big.length - 3);
    // The frame in 64 KiB reads, but for the first (4 KiB): one read more than 64 KiB ones take
    // (fewer when TCP hands over less at a time, never reads of less than 64 KiB but the last).
    const reads = conn!.sizes.length - 1; // the one pending now
    assert.ok(
      reads <= Math.ceil((big.length - FIRST_READ_BYTES) / FULL_READ_BYTES) + 1 + 8,
      `${reads} reads for ${big.length} bytes: ${conn!.sizes.join(",")}`,
    );
    assert.deepEqual(new Set(conn!.sizes.slice(1)), new Set([FULL_READ_BYTES]));

    // Small frames, one at a time: the large buffer goes once enough of them came.
    for (let i = 0; i < SHRINK_AFTER_SHORT_READS; i++) {
      await writeAll(client, encodeMllp(adt(`S${i}`)));
      assert.match(await readFrame(client), new RegExp(`MSA\\|AA\\|S${i}\\b`));
    }
    await waitFor("a read pending", () => conn!.reading);
    assert.equal(conn!.sizes.at(-1), FIRST_READ_BYTES, conn!.sizes.join(","));
  } finally {
    client.close();
    await handled;
  }
});

Deno.test("a destination's MLLP connection waits on a small read buffer, and takes a large frame whole", async () => {
  const { client, server } = await pair();
  const conn = sizing(client);
  const mllp = new SocketMllpConnection({
    read: conn.read,
    write: conn.write,
    close: conn.close,
    localAddr: client.localAddr,
  });
  try {
    await waitFor("the first read pending", () => conn.reading);
    assert.deepEqual(conn.sizes, [FIRST_READ_BYTES]);
    await mllp.send(enc.encode(adt("OUT1")));
    // The destination answers with a large frame (an application ACK with a long NTE).
    const reply = `MSH|^~\\&|D|D|E|E|20260101||ACK|1|P|2.5\rMSA|AA|OUT1\rNTE|1||${
      "Y".repeat(200_000)
    }`;
    await writeAll(server, encodeMllp(enc.encode(reply)));
    const got = await mllp.receive(AbortSignal.timeout(10_000));
    assert.equal(got.type, "frame");
    assert.equal(dec.decode((got as { payload: Uint8Array }).payload), reply);
    assert.ok(conn.sizes.slice(1).every((s) => s === FULL_READ_BYTES), conn.sizes.join(","));
  } finally {
    mllp.close();
    server.close();
  }
});

Deno.test("300 idle inbound MLLP connections take less than 16 KiB of buffers each", async () => {
  const inbox = answeringInbox();
  const open: { client: Deno.TcpConn; handled: Promise<void> }[] = [];
  const before = Deno.memoryUsage().external;
  let reading = 0;
  try {
    for (let i = 0; i < 300; i++) {
      open.push(
        await inbound(inbox, (c) => {
          const s = sizing(c);
          const read = s.read;
          s.read = (p) => {
            reading++;
            return read(p);
          };
          return s;
        }),
      );
    }
    await waitFor("every connection reading", () => reading >= 300);
    const perConnection = (Deno.memoryUsage().external - before) / 300;
    assert.ok(
      perConnection < 16 * 1024,
      `${Math.round(perConnection / 1024)} KiB of external memory per idle connection`,
    );
  } finally {
    for (const o of open) o.client.close();
    await Promise.all(open.map((o) => o.handled));
  }
});
