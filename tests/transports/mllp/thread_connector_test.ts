/**
 * The outbound MLLP connector whose sockets live on a Worker thread (`ThreadMllpConnector`), over
 * real loopback sockets: the connection as the delivery actor sees it, and run-ahead (the thread
 * sends the next listed message itself the moment an accepting ACK of the message on the wire
 * arrives, and only then).
 *
 * The peer is a raw `Deno.listen` socket decoding MLLP frames, driven by each test. "Nothing was
 * sent ahead" is checked without a sleep: a plain `send()` probe goes out after the frame reached
 * the engine's side, so the probe must be the next thing the peer reads (a message sent ahead would
 * have been written before the frame was posted, hence ahead of the probe).
 */

import assert from "node:assert/strict";
import { memoryLogger } from "../../../actors/runtime/log.ts";
import net from "node:net";
import type { AddressInfo } from "node:net";
import type { AheadMessage, MllpConnection, Received } from "../../../actors/ports.ts";
import { encodeMllp, MllpDecoder } from "../../../codecs/mllp/mod.ts";
import { ThreadMllpConnector } from "../../../transports/mllp/thread_connector.ts";
import { adt, freePort, waitFor } from "../../helpers/net.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
/** Bound on every single wait of these tests. */
const WAIT_MS = 5_000;

/** A FIFO whose {@link Inbox.next} waits (at most `ms`) for the next item. */
class Inbox<T> {
  readonly #items: T[] = [];
  readonly #waiters: ((item: T) => void)[] = [];

  push(item: T): void {
    const waiter = this.#waiters.shift();
    if (waiter) waiter(item);
    else this.#items.push(item);
  }

  get size(): number {
    return this.#items.length;
  }

  next(what: string, ms = WAIT_MS): Promise<T> {
    if (this.#items.length > 0) return Promise.resolve(this.#items.shift()!);
    return new Promise((resolve, reject) => {
      const waiter = (item: T) => {
        clearTimeout(timer);
        resolve(item);
      };
      const timer = setTimeout(() => {
        this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
        reject(new Error(`timed out waiting for ${what}`));
      }, ms);
      this.#waiters.push(waiter);
    });
  }
}

/** One accepted connection of the peer: decodes frames as they come, answers when told. */
class PeerSide {
  readonly conn: Deno.TcpConn;
  /** Frames not yet taken by the test, in arrival order. */
  readonly frames = new Inbox<string>();
  /** Every frame received, in arrival order. */
  readonly seen: string[] = [];
  /** Frames that arrived while an earlier one was still unanswered. */
  readonly overlapped: string[] = [];
  #answered = 0;
  /** Resolves when the engine's end closed (or the socket failed, or the test closed it). */
  readonly ended: Promise<void>;

  constructor(conn: Deno.TcpConn) {
    this.conn = conn;
    conn.setNoDelay(true);
    this.ended = this.#read();
  }

  async #read(): Promise<void> {
    const decoder = new MllpDecoder({ maxFrameBytes: 1 << 20 });
    const buf = new Uint8Array(64 * 1024);
    try {
      while (true) {
        const n = await this.conn.read(buf);
        if (n === null) return;
        for (const event of decoder.push(buf.slice(0, n))) {
          if (event.type !== "frame") continue;
          const text = dec.decode(event.payload);
          if (this.seen.length > this.#answered) this.overlapped.push(text);
          this.seen.push(text);
          this.frames.push(text);
        }
      }
    } catch {
      // Reset, or closed by the test.
    }
  }

  /** Resolves once the other end closed the connection; fails after {@link WAIT_MS}. */
  async closedByOtherEnd(what = "the engine's end to close"): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), WAIT_MS);
    });
    try {
      await Promise.race([this.ended, late]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Control ids of every frame received. */
  get seenIds(): string[] {
    return this.seen.map(controlIdOf);
  }

  /** Frames and writes `text` as the answer to the oldest unanswered frame. */
  answer(text: string): Promise<void> {
    this.#answered++;
    return this.writeRaw(encodeMllp(text, { validate: false }));
  }

  async writeRaw(bytes: Uint8Array): Promise<void> {
    let off = 0;
    while (off < bytes.length) off += await this.conn.write(bytes.subarray(off));
  }

  close(): void {
    try {
      this.conn.close();
    } catch { /* already closed */ }
  }
}

/** A loopback MLLP peer accepting any number of connections. */
class Peer {
  readonly listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  readonly port = (this.listener.addr as Deno.NetAddr).port;
  /** Accepted connections not yet taken by the test. */
  readonly sides = new Inbox<PeerSide>();
  readonly all: PeerSide[] = [];
  readonly #accepting: Promise<void>;

  constructor() {
    this.#accepting = this.#accept();
  }

  async #accept(): Promise<void> {
    try {
      for await (const conn of this.listener) {
        const side = new PeerSide(conn);
        this.all.push(side);
        this.sides.push(side);
      }
    } catch { /* listener closed */ }
  }

  async close(): Promise<void> {
    try {
      this.listener.close();
    } catch { /* already closed */ }
    await this.#accepting;
    for (const side of this.all) side.close();
    await Promise.all(this.all.map((s) => s.ended));
  }
}

/** MSH-10 of an HL7 message's text. */
function controlIdOf(text: string): string {
  return text.split("\r")[0]!.split("|")[9] ?? "";
}

/** An HL7 ACK with MSA-1 `code` naming control id `answers` in MSA-2. */
function ack(code: string, answers: string): string {
  return [
    `MSH|^~\\&|CLINIC|ENGINE|EPIC|HOSP|20240315123001||ACK^A01^ACK|ACK-${answers}|P|2.5.1`,
    `MSA|${code}|${answers}`,
  ].join("\r");
}

/** Queue entry `key` as an ADT^A01 whose MSH-10 is `C<key>`. */
function message(key: string): AheadMessage {
  const controlId = `C${key}`;
  return { key, controlId, payload: enc.encode(adt(controlId)) };
}

function connectTo(
  connector: ThreadMllpConnector,
  port: number,
  signal = new AbortController().signal,
): Promise<MllpConnection> {
  return connector.connect({ host: "127.0.0.1", port }, { timeoutMs: WAIT_MS, signal });
}

/** The next thing the connection receives, `aborted` after {@link WAIT_MS}. */
async function receive(conn: MllpConnection): Promise<Received> {
  const timeout = new AbortController();
  const timer = setTimeout(() => timeout.abort(), WAIT_MS);
  try {
    return await conn.receive(timeout.signal);
  } finally {
    clearTimeout(timer);
  }
}

/** The next received frame, as text and the key that followed it. */
async function frame(conn: MllpConnection): Promise<{ text: string; followedBy?: string }> {
  const got = await receive(conn);
  assert.equal(got.type, "frame", `expected a frame, got ${JSON.stringify(got)}`);
  if (got.type !== "frame") throw new Error("unreachable");
  return {
    text: dec.decode(got.payload),
    ...(got.followedBy !== undefined ? { followedBy: got.followedBy } : {}),
  };
}

/**
 * Returns once the socket thread handled every message posted to it before: it handles them in
 * order, and only answers a connect after making the connection (to `sink`, which never accepts).
 */
async function barrier(connector: ThreadMllpConnector, sink: Deno.Listener): Promise<void> {
  const conn = await connectTo(connector, (sink.addr as Deno.NetAddr).port);
  conn.close();
}

/** Sends a plain probe and checks it is the next frame the peer reads: nothing went ahead of it. */
async function assertNothingSentAhead(conn: MllpConnection, side: PeerSide): Promise<void> {
  await conn.send(enc.encode(adt("PROBE")));
  const next = await side.frames.next("the probe");
  assert.equal(controlIdOf(next), "PROBE", "the peer got a message sent ahead before the probe");
  await side.answer(ack("AA", "PROBE"));
  const probeAck = await frame(conn);
  assert.match(probeAck.text, /MSA\|AA\|PROBE/);
  assert.equal(probeAck.followedBy, undefined);
}

interface Rig {
  connector: ThreadMllpConnector;
  peer: Peer;
  /** A listener that never accepts, for {@link barrier}. */
  sink: Deno.Listener;
  /** A new connection and the peer's end of it. */
  open(): Promise<{ conn: MllpConnection; side: PeerSide }>;
}

/** Runs `body` with a connector and a peer; closes both (and every connection) at the end. */
async function withRig(
  body: (rig: Rig) => Promise<void>,
  options: { maxFrameBytes?: number } = {},
): Promise<void> {
  const connector = new ThreadMllpConnector(options);
  const peer = new Peer();
  const sink = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns: MllpConnection[] = [];
  try {
    await body({
      connector,
      peer,
      sink,
      async open() {
        const conn = await connectTo(connector, peer.port);
        conns.push(conn);
        const side = await peer.sides.next("the peer to accept");
        return { conn, side };
      },
    });
  } finally {
    for (const conn of conns) conn.close();
    connector.close();
    sink.close();
    await peer.close();
  }
}

/**
 * Message 1 goes out keyed with 2 and 3 listed after it (as `prepare` sets up: by default allowed
 * for 5 s); the peer answers it with `reply`; returns the frame the engine's side got.
 */
async function answerFirst(
  rig: Rig,
  reply: (controlId: string) => string,
  prepare: (conn: MllpConnection) => void = (conn) => {
    conn.runAhead!.allow(5_000);
    conn.runAhead!.follow("1", [message("2"), message("3")]);
  },
): Promise<{ conn: MllpConnection; side: PeerSide; got: { text: string; followedBy?: string } }> {
  const { conn, side } = await rig.open();
  prepare(conn);
  await conn.runAhead!.sendKeyed(message("1"));
  await barrier(rig.connector, rig.sink);
  const first = await side.frames.next("message 1");
  assert.equal(controlIdOf(first), "C1");
  await side.answer(reply("C1"));
  return { conn, side, got: await frame(conn) };
}

Deno.test("a connection sends and receives through the socket thread; close() ends it: not open, receive closed, send rejects, socket closed", async () => {
  const connector = new ThreadMllpConnector();
  const peer = new Peer();
  try {
    const conn = await connectTo(connector, peer.port);
    const side = await peer.sides.next("the peer to accept");
    assert.equal(conn.open, true);
    assert.match(conn.local ?? "", /^127\.0\.0\.1:\d+$/);
    assert.equal(conn.local, `127.0.0.1:${(side.conn.remoteAddr as Deno.NetAddr).port}`);
    assert.equal(connector.connections, 1);

    await conn.send(enc.encode(adt("X1")));
    assert.equal(controlIdOf(await side.frames.next("the message")), "X1");
    await side.answer(ack("AA", "X1"));
    const got = await frame(conn);
    assert.equal(got.text, ack("AA", "X1"));
    assert.equal(got.followedBy, undefined);

    conn.close();
    assert.equal(conn.open, false);
    const after = await receive(conn);
    assert.equal(after.type, "closed");
    assert.equal(connector.connections, 0);
    // The thread closed the socket: the peer reads its end.
    await side.closedByOtherEnd();
    await assert.rejects(conn.send(enc.encode(adt("X2"))), /connection closed/);
  } finally {
    connector.close();
    await peer.close();
  }
});

Deno.test("connector.close() ends the connections still open: their sockets close and a wait ends closed", async () => {
  const connector = new ThreadMllpConnector();
  const peer = new Peer();
  try {
    const conn = await connectTo(connector, peer.port);
    const side = await peer.sides.next("the peer to accept");
    const waiting = receive(conn);
    connector.close();
    assert.equal(conn.open, false);
    assert.equal((await waiting).type, "closed");
    assert.equal(connector.connections, 0);
    await side.closedByOtherEnd();
    // A later connect starts a new thread.
    const again = await connectTo(connector, peer.port);
    const side2 = await peer.sides.next("the peer to accept again");
    await again.send(enc.encode(adt("X3")));
    assert.equal(controlIdOf(await side2.frames.next("the message")), "X3");
  } finally {
    connector.close();
    await peer.close();
  }
});

Deno.test("connector.close() stops the socket thread: a process using it exits by itself, even with a connection left open", async () => {
  const peer = new Peer();
  const module = new URL("../../../transports/mllp/thread_connector.ts", import.meta.url).href;
  try {
    for (const connectionLeftOpen of [false, true]) {
      const code = [
        `import { ThreadMllpConnector } from ${JSON.stringify(module)};`,
        `const connector = new ThreadMllpConnector();`,
        `const conn = await connector.connect({ host: "127.0.0.1", port: ${peer.port} },`,
        `  { timeoutMs: 5000, signal: new AbortController().signal });`,
        connectionLeftOpen ? "" : "conn.close();",
        `connector.close();`,
        `console.log("closed");`,
      ].join("\n");
      const child = new Deno.Command(Deno.execPath(), {
        args: ["eval", code],
        cwd: new URL("../../../", import.meta.url),
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      // Nothing else keeps the child alive: only a thread left running would.
      let killed = false;
      const timer = setTimeout(() => {
        killed = true;
        child.kill("SIGKILL");
      }, WAIT_MS);
      const out = await child.output();
      clearTimeout(timer);
      const what = connectionLeftOpen ? "with a connection left open" : "after closing it";
      assert.equal(killed, false, `the process did not exit ${what}: the thread still runs`);
      assert.equal(out.code, 0, `${what}: ${dec.decode(out.stderr)}`);
      assert.equal(dec.decode(out.stdout).trim(), "closed");
      await (await peer.sides.next("the child's connection")).closedByOtherEnd();
    }
  } finally {
    await peer.close();
  }
});

Deno.test("connect rejects with the reason when refused or aborted, and succeeds to a port that never speaks", async () => {
  const connector = new ThreadMllpConnector();
  const silent = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const peer = new Peer();
  try {
    const closedPort = freePort();
    await assert.rejects(connectTo(connector, closedPort), (e: unknown) => {
      assert.ok(e instanceof Error);
      assert.match(e.message, new RegExp(`refused|${closedPort}`, "i"));
      return true;
    });
    assert.equal(connector.connections, 0);

    const aborted = new AbortController();
    aborted.abort();
    await assert.rejects(connectTo(connector, peer.port, aborted.signal), /aborted/);

    // Aborted while the thread is connecting.
    const during = new AbortController();
    const connecting = connectTo(connector, peer.port, during.signal);
    during.abort();
    await assert.rejects(connecting, /aborted/);
    assert.equal(connector.connections, 0);

    // A listener that accepts in the kernel only and never speaks: the connection is made.
    const conn = await connectTo(connector, (silent.addr as Deno.NetAddr).port);
    assert.equal(conn.open, true);
    assert.ok(conn.local);
    conn.close();

    // Whatever the aborted connect reached the peer with was closed by the thread.
    for (const side of peer.all) await side.closedByOtherEnd();
    assert.equal(connector.connections, 0);
  } finally {
    connector.close();
    silent.close();
    await peer.close();
  }
});

Deno.test("run-ahead sends each listed message only on the accepting ACK of the one before, one at a time", async () => {
  await withRig(async (rig) => {
    const { conn, side } = await rig.open();
    const ahead = conn.runAhead!;
    ahead.allow(5_000);
    await ahead.sendKeyed(message("1"));
    ahead.follow("1", [message("2"), message("3")]);
    await barrier(rig.connector, rig.sink);

    // The peer takes a moment over each message (a slow receiver): a message sent before the
    // ACK of the one on the wire would arrive while that one is unanswered.
    const answering = (async () => {
      for (let i = 1; i <= 3; i++) {
        const text = await side.frames.next(`message ${i}`);
        await new Promise((r) => setTimeout(r, 20));
        await side.answer(ack("AA", controlIdOf(text)));
      }
    })();
    const got = [await frame(conn), await frame(conn), await frame(conn)];
    await answering;
    assert.deepEqual(got.map((g) => controlIdOf(g.text)), ["ACK-C1", "ACK-C2", "ACK-C3"]);
    assert.deepEqual(got.map((g) => g.followedBy), ["2", "3", undefined]);
    assert.deepEqual(side.seenIds, ["C1", "C2", "C3"]);
    assert.deepEqual(side.overlapped, [], "the peer had two unanswered messages");
    await assertNothingSentAhead(conn, side);
  });
});

Deno.test("run-ahead sends nothing after an AE or AR for the message on the wire", async () => {
  await withRig(async (rig) => {
    for (const code of ["AE", "AR"]) {
      const { conn, side, got } = await answerFirst(rig, (id) => ack(code, id));
      assert.equal(got.text, ack(code, "C1"));
      assert.equal(got.followedBy, undefined, code);
      await assertNothingSentAhead(conn, side);
      assert.deepEqual(side.seenIds, ["C1", "PROBE"], code);
      conn.close();
    }
  });
});

Deno.test("run-ahead follows nothing on a later answer to a message already answered: an AA after its AE", async () => {
  await withRig(async (rig) => {
    const { conn, side, got } = await answerFirst(rig, (id) => ack("AE", id));
    assert.equal(got.followedBy, undefined);
    // The peer changes its mind: the engine retries message 1 itself; nothing may go before it.
    await side.answer(ack("AA", "C1"));
    const late = await frame(conn);
    assert.match(late.text, /MSA\|AA\|C1/);
    assert.equal(late.followedBy, undefined);
    await assertNothingSentAhead(conn, side);
    assert.deepEqual(side.seenIds, ["C1", "PROBE"]);
  });
});

Deno.test("run-ahead follows a CA as it follows an AA", async () => {
  await withRig(async (rig) => {
    for (const code of ["CA", "AA"]) {
      const { conn, side, got } = await answerFirst(rig, (id) => ack(code, id));
      assert.equal(got.followedBy, "2", code);
      assert.equal(controlIdOf(await side.frames.next("message 2")), "C2", code);
      conn.close();
    }
  });
});

Deno.test("run-ahead sends nothing after an ACK naming another control id, or an unreadable reply", async () => {
  await withRig(async (rig) => {
    const replies: Record<string, (id: string) => string> = {
      "another control id": () => ack("AA", "C2"),
      "an empty MSA-2": () => ack("AA", ""),
      "no MSA segment": () => adt("R1"),
      "not HL7": () => "this is not an HL7 message",
    };
    for (const [what, reply] of Object.entries(replies)) {
      const { conn, side, got } = await answerFirst(rig, reply);
      assert.equal(got.text, reply("C1"), what);
      assert.equal(got.followedBy, undefined, what);
      await assertNothingSentAhead(conn, side);
      assert.deepEqual(side.seenIds, ["C1", "PROBE"], what);
      conn.close();
    }
  });
});

Deno.test("run-ahead sends nothing while held, once the allowance expired, or when the list is about another message", async () => {
  await withRig(async (rig) => {
    const setups: Record<string, (conn: MllpConnection) => void> = {
      "held after allow": (conn) => {
        conn.runAhead!.allow(5_000);
        conn.runAhead!.follow("1", [message("2"), message("3")]);
        conn.runAhead!.hold();
      },
      "never allowed": (conn) => {
        conn.runAhead!.follow("1", [message("2"), message("3")]);
      },
      "allowed for 0 ms": (conn) => {
        conn.runAhead!.allow(0);
        conn.runAhead!.follow("1", [message("2"), message("3")]);
      },
      "allowance already past": (conn) => {
        conn.runAhead!.allow(-1_000);
        conn.runAhead!.follow("1", [message("2"), message("3")]);
      },
      "list about message 99": (conn) => {
        conn.runAhead!.allow(5_000);
        conn.runAhead!.follow("99", [message("2"), message("3")]);
      },
    };
    for (const [what, prepare] of Object.entries(setups)) {
      const { conn, side, got } = await answerFirst(rig, (id) => ack("AA", id), prepare);
      assert.equal(got.followedBy, undefined, what);
      await assertNothingSentAhead(conn, side);
      assert.deepEqual(side.seenIds, ["C1", "PROBE"], what);
      conn.close();
    }
  });
});

Deno.test("a list anchored before the message on the wire is re-anchored on it: the next one after it goes", async () => {
  await withRig(async (rig) => {
    const { conn, side, got } = await answerFirst(rig, (id) => ack("AA", id), (conn) => {
      conn.runAhead!.allow(5_000);
      conn.runAhead!.follow("1", [message("2")]);
    });
    assert.equal(got.followedBy, "2");
    assert.equal(controlIdOf(await side.frames.next("message 2")), "C2");

    // Message 2 is on the wire; the new list still starts after message 1.
    conn.runAhead!.follow("1", [message("2"), message("3"), message("4")]);
    await barrier(rig.connector, rig.sink);
    await side.answer(ack("AA", "C2"));
    const second = await frame(conn);
    assert.equal(second.followedBy, "3");
    assert.equal(controlIdOf(await side.frames.next("message 3")), "C3");
    await side.answer(ack("AA", "C3"));
    assert.equal((await frame(conn)).followedBy, "4");
    assert.equal(controlIdOf(await side.frames.next("message 4")), "C4");
    await side.answer(ack("AA", "C4"));
    assert.equal((await frame(conn)).followedBy, undefined);
    assert.deepEqual(side.seenIds, ["C1", "C2", "C3", "C4"]);
    assert.deepEqual(side.overlapped, []);
  });
});

Deno.test("a list given after its last message is added to, and what it holds up to that message stays", async () => {
  await withRig(async (rig) => {
    const { conn, side, got } = await answerFirst(rig, (id) => ack("AA", id), (conn) => {
      conn.runAhead!.allow(5_000);
      conn.runAhead!.follow("1", [message("2"), message("3")]);
    });
    assert.equal(got.followedBy, "2");
    assert.equal(controlIdOf(await side.frames.next("message 2")), "C2");
    // Message 2 is on the wire, 3 is listed; 4 and 5 come after 3, the list's end.
    conn.runAhead!.follow("3", [message("4"), message("5")]);
    await barrier(rig.connector, rig.sink);
    for (const [id, next] of [["2", "3"], ["3", "4"], ["4", "5"], ["5", undefined]] as const) {
      await side.answer(ack("AA", `C${id}`));
      assert.equal((await frame(conn)).followedBy, next, `after ${id}`);
      if (next) assert.equal(controlIdOf(await side.frames.next(`message ${next}`)), `C${next}`);
    }
    assert.deepEqual(side.seenIds, ["C1", "C2", "C3", "C4", "C5"]);
    assert.deepEqual(side.overlapped, []);
  });
});

Deno.test("a message sent with the list that follows it is followed as with a list given apart", async () => {
  await withRig(async (rig) => {
    const { conn, side } = await rig.open();
    conn.runAhead!.allow(5_000);
    await conn.runAhead!.sendKeyed(message("1"), [message("2"), message("3")]);
    for (const [id, next] of [["1", "2"], ["2", "3"], ["3", undefined]] as const) {
      assert.equal(controlIdOf(await side.frames.next(`message ${id}`)), `C${id}`);
      await side.answer(ack("AA", `C${id}`));
      assert.equal((await frame(conn)).followedBy, next, `after ${id}`);
    }
    assert.deepEqual(side.seenIds, ["C1", "C2", "C3"]);
    assert.deepEqual(side.overlapped, []);
  });
});
Deno.test("run-ahead never sends on its own a listed message under an MSH-10 the connection carried for another message, next or later in the list", async () => {
  await withRig(async (rig) => {
    // Another message (key 9) under message 1's MSH-10: a late reply to 1 would read as its ACK.
    const twin: AheadMessage = { key: "9", controlId: "C1", payload: enc.encode(adt("C1", "X")) };
    for (const list of [[twin], [message("2"), twin]]) {
      const { conn, side } = await rig.open();
      conn.runAhead!.allow(5_000);
      await conn.runAhead!.sendKeyed(message("1"), list);
      const ids = ["C1"];
      for (const [i, n] of list.entries()) {
        assert.equal(controlIdOf(await side.frames.next(`frame ${i + 1}`)), ids.at(-1));
        await side.answer(ack("AA", ids.at(-1)!));
        const got = await frame(conn);
        if (n === twin) assert.equal(got.followedBy, undefined, "the twin went on its own");
        else {
          assert.equal(got.followedBy, n.key);
          ids.push(n.controlId);
        }
      }
      await assertNothingSentAhead(conn, side);
      assert.deepEqual(side.seenIds, [...ids, "PROBE"]);
      assert.deepEqual(side.overlapped, []);
      conn.close();
    }
  });
});

Deno.test("a socket thread that fails ends its connections with the reason, the process stays up, and the next connect starts a thread again", async () => {
  const log = memoryLogger();
  const connector = new ThreadMllpConnector({
    threadModule: new URL("./failing_thread.ts", import.meta.url),
    log,
  });
  const peer = new Peer();
  try {
    const conn = await connectTo(connector, peer.port);
    const side = await peer.sides.next("the peer to accept");
    const waiting = receive(conn);
    await conn.send(enc.encode("FAIL")).catch(() => {});
    const ended = await waiting;
    assert.equal(ended.type, "closed");
    assert.match(ended.type === "closed" ? ended.reason : "", /MLLP socket thread failed/);
    assert.equal(conn.open, false);
    await assert.rejects(conn.send(enc.encode(adt("AFTER"))), /connection closed/);
    const told = log.lines.filter((l) => l.includes("mllp.thread-failed"));
    assert.equal(told.length, 1, log.lines.join("\n"));
    assert.match(told[0]!, /ERROR .*the test's thread fails here.*connections=1/);
    // A new thread for the next connection, which works.
    const again = await connectTo(connector, peer.port);
    const side2 = await peer.sides.next("the peer to accept again");
    await again.send(enc.encode(adt("AGAIN")));
    assert.equal(controlIdOf(await side2.frames.next("AGAIN")), "AGAIN");
    await side2.answer(ack("AA", "AGAIN"));
    assert.match((await frame(again)).text, /MSA\|AA\|AGAIN/);
    again.close();
    void side;
  } finally {
    connector.close();
    await peer.close();
  }
});

Deno.test("a peer that closes after reading a frame ends the pending receive closed, and send then rejects", async () => {
  await withRig(async (rig) => {
    const { conn, side } = await rig.open();
    const waiting = receive(conn);
    await conn.send(enc.encode(adt("X1")));
    await side.frames.next("the message");
    side.close();
    const got = await waiting;
    assert.equal(got.type, "closed");
    assert.ok(got.type === "closed" && got.reason.length > 0, JSON.stringify(got));
    assert.equal(conn.open, false);
    await assert.rejects(conn.send(enc.encode(adt("X2"))), /connection closed/);
    assert.equal(rig.connector.connections, 0);
  });
});

Deno.test("a peer that resets the connection after reading ends the pending receive closed with the reason", async () => {
  const connector = new ThreadMllpConnector();
  const server = net.createServer((socket) => {
    socket.on("error", () => {});
    socket.once("data", () => socket.resetAndDestroy());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  try {
    const conn = await connectTo(connector, (server.address() as AddressInfo).port);
    const waiting = receive(conn);
    await conn.send(enc.encode(adt("X1")));
    const got = await waiting;
    assert.equal(got.type, "closed");
    assert.ok(got.type === "closed" && got.reason.length > 0, JSON.stringify(got));
    assert.equal(conn.open, false);
    await assert.rejects(conn.send(enc.encode(adt("X2"))), /connection closed/);
  } finally {
    connector.close();
    await new Promise((resolve) => server.close(resolve));
  }
});

Deno.test("a frame over maxFrameBytes ends the connection closed with a reason naming the limit", async () => {
  await withRig(async (rig) => {
    const { conn, side } = await rig.open();
    // Within the limit first: the limit is the option's, not something smaller.
    const fits = ack("AA", "X".repeat(450));
    assert.ok(enc.encode(fits).length > 900 && enc.encode(fits).length <= 1024);
    await side.answer(fits);
    assert.equal((await frame(conn)).text, fits);
    const waiting = receive(conn);
    await side.writeRaw(encodeMllp("MSH|^~\\&|" + "X".repeat(2_000), { validate: false }));
    const got = await waiting;
    assert.equal(got.type, "closed");
    assert.match(got.type === "closed" ? got.reason : "", /1024/);
    assert.equal(conn.open, false);
    await side.closedByOtherEnd();
  }, { maxFrameBytes: 1024 });
});

Deno.test("an ACK trickled byte by byte arrives as one frame and is still followed", async () => {
  await withRig(async (rig) => {
    const { conn, side } = await rig.open();
    conn.runAhead!.allow(5_000);
    conn.runAhead!.follow("1", [message("2")]);
    await conn.runAhead!.sendKeyed(message("1"));
    await barrier(rig.connector, rig.sink);
    await side.frames.next("message 1");
    const bytes = encodeMllp(ack("AA", "C1"));
    for (const byte of bytes) {
      await side.writeRaw(Uint8Array.of(byte));
      // One write per read on the thread's side, as far as the peer can make it.
      await new Promise((r) => setTimeout(r, 1));
    }
    const got = await frame(conn);
    assert.equal(got.text, ack("AA", "C1"));
    assert.equal(got.followedBy, "2");
    assert.equal(controlIdOf(await side.frames.next("message 2")), "C2");
    await side.answer(ack("AA", "C2"));
    // The next frame is the answer to message 2: the trickle made one frame, not several.
    assert.equal((await frame(conn)).text, ack("AA", "C2"));
  });
});

Deno.test("fifty connections opened and closed one after another all work, and the thread stays usable", async () => {
  await withRig(async (rig) => {
    for (let i = 0; i < 50; i++) {
      const { conn, side } = await rig.open();
      await conn.send(enc.encode(adt(`N${i}`)));
      assert.equal(controlIdOf(await side.frames.next(`message N${i}`)), `N${i}`);
      await side.answer(ack("AA", `N${i}`));
      assert.equal((await frame(conn)).text, ack("AA", `N${i}`));
      conn.close();
      await side.closedByOtherEnd();
    }
    assert.equal(rig.connector.connections, 0);
    const { conn, side } = await rig.open();
    await conn.send(enc.encode(adt("LAST")));
    assert.equal(controlIdOf(await side.frames.next("the last message")), "LAST");
  });
});

Deno.test("interrupt() ends a pending receive aborted and a frame arriving later goes to the next receive", async () => {
  await withRig(async (rig) => {
    const { conn, side } = await rig.open();
    const waiting = receive(conn);
    conn.interrupt();
    assert.deepEqual(await waiting, { type: "aborted" });
    assert.equal(conn.open, true);
    // The frame arrives while nobody waits: a receive that does not wait (its signal already
    // aborted) returns it once it is there.
    await side.answer(ack("AA", "LATE"));
    const peek = new AbortController();
    peek.abort();
    let late = { type: "aborted" } as Received;
    await waitFor("the late frame", async () => {
      late = await conn.receive(peek.signal);
      return late.type !== "aborted";
    });
    assert.equal(late.type, "frame");
    assert.equal(dec.decode(late.type === "frame" ? late.payload : undefined), ack("AA", "LATE"));
    // Nothing is waiting: interrupting changes nothing.
    conn.interrupt();
    await side.answer(ack("AA", "LATER"));
    assert.equal((await frame(conn)).text, ack("AA", "LATER"));
  });
});

Deno.test("close() while a message sent ahead is in flight: the peer receives nothing more", async () => {
  await withRig(async (rig) => {
    const { conn, side, got } = await answerFirst(rig, (id) => ack("AA", id), (conn) => {
      conn.runAhead!.allow(5_000);
      conn.runAhead!.follow("1", [message("2"), message("3"), message("4")]);
    });
    assert.equal(got.followedBy, "2");
    assert.equal(controlIdOf(await side.frames.next("message 2")), "C2");
    conn.close();
    // The ACK of message 2 comes after the close: nothing follows it.
    await side.answer(ack("AA", "C2")).catch(() => {});
    await side.closedByOtherEnd();
    assert.deepEqual(side.seenIds, ["C1", "C2"]);
    assert.deepEqual(await receive(conn), { type: "closed", reason: "closed by the engine" });
  });
});

/** Nice values of this process's threads whose name starts with `prefix` (Linux). */
function threadNices(prefix: string): number[] {
  const out: number[] = [];
  for (const t of Deno.readDirSync(`/proc/${Deno.pid}/task`)) {
    try {
      const comm = Deno.readTextFileSync(`/proc/${Deno.pid}/task/${t.name}/comm`).trim();
      if (!comm.startsWith(prefix)) continue;
      const stat = Deno.readTextFileSync(`/proc/${Deno.pid}/task/${t.name}/stat`);
      // Field 19 (nice), counted after the command name's closing parenthesis.
      out.push(Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[16]));
    } catch { /* the thread ended meanwhile */ }
  }
  return out;
}

Deno.test({
  name:
    "the socket thread runs at a nice value five above the engine's thread (a lower priority), says so once, and the engine's thread keeps its own",
  ignore: Deno.build.os !== "linux",
  fn: async () => {
    const { getPriority } = await import("node:os");
    const mine = getPriority(0);
    const log = memoryLogger();
    const connector = new ThreadMllpConnector({ log });
    const peer = new Peer();
    try {
      const conn = await connectTo(connector, peer.port);
      await waitFor(
        "the thread to say it started",
        () => log.lines.some((l) => l.includes("mllp.thread-started")),
      );
      const started = log.lines.filter((l) => l.includes("mllp.thread-started"));
      const expected = Math.min(19, mine + 5);
      assert.equal(started.length, 1, started.join("\n"));
      assert.match(started[0]!, new RegExp(`INFO .*nice=${expected}\\b`));
      // Seen from outside the thread too: a worker thread of this process at that nice value.
      assert.ok(threadNices("worker").includes(expected), JSON.stringify(threadNices("worker")));
      assert.equal(getPriority(0), mine, "the engine's own thread was lowered too");
      // A second connection uses the same thread: it does not start (or lower) again.
      const second = await connectTo(connector, peer.port);
      assert.equal(log.lines.filter((l) => l.includes("mllp.thread-started")).length, 1);
      conn.close();
      second.close();
    } finally {
      connector.close();
      await peer.close();
    }
  },
});

Deno.test({
  name:
    "a socket thread not permitted to lower its priority says why in a warning and still carries messages",
  ignore: Deno.build.os !== "linux",
  fn: async () => {
    const peer = new Peer();
    const module = (path: string) => JSON.stringify(new URL(path, import.meta.url).href);
    try {
      const code = [
        `import { ThreadMllpConnector } from ${
          module("../../../transports/mllp/thread_connector.ts")
        };`,
        `import { memoryLogger } from ${module("../../../actors/runtime/log.ts")};`,
        `const log = memoryLogger();`,
        `const connector = new ThreadMllpConnector({ log });`,
        `const conn = await connector.connect({ host: "127.0.0.1", port: ${peer.port} },`,
        `  { timeoutMs: 5000, signal: new AbortController().signal });`,
        `await conn.send(new TextEncoder().encode("MSH|^~\\\\&|A|B|C|D|20260101||ADT^A01|P1|P|2.5"));`,
        `const got = await conn.receive(AbortSignal.timeout(5000));`,
        `console.log(JSON.stringify({ got: got.type, log: log.lines }));`,
        `connector.close();`,
      ].join("\n");
      const child = new Deno.Command(Deno.execPath(), {
        // Everything it needs but the right to change a thread's priority.
        args: [
          "run",
          "--allow-net=127.0.0.1",
          "--allow-read",
          "--allow-sys=getPriority",
          `data:application/typescript;base64,${btoa(code)}`,
        ],
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const side = await peer.sides.next("the child's connection");
      await side.frames.next("the child's message");
      await side.answer(ack("AA", "P1"));
      const out = await child.output();
      assert.equal(out.code, 0, dec.decode(out.stderr));
      const result = JSON.parse(dec.decode(out.stdout)) as { got: string; log: string[] };
      assert.equal(result.got, "frame");
      const started = result.log.filter((l) => l.includes("mllp.thread-started"));
      assert.equal(started.length, 1, result.log.join("\n"));
      assert.match(
        started[0]!,
        /WARN .*nice=unchanged.*could not lower the socket thread's priority: .*setPriority/,
      );
    } finally {
      await peer.close();
    }
  },
});
