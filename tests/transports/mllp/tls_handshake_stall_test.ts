/**
 * Outbound MLLP over TLS to a peer that takes the TCP connection but never answers the TLS
 * handshake (a hung TLS terminator, or a plain port waiting for the client to speak first): the
 * connect deadline covers the handshake, an abort ends it, and either way the socket is closed
 * (the peer sees its end). Real sockets on 127.0.0.1, with both outbound connectors.
 */

import assert from "node:assert/strict";
import type { MllpConnection, MllpTarget } from "../../../actors/ports.ts";
import { connectMllp } from "../../../transports/mllp/client.ts";
import { ThreadMllpConnector } from "../../../transports/mllp/thread_connector.ts";
import { freePort, waitFor } from "../../helpers/net.ts";

type Connect = (
  target: MllpTarget,
  options: { timeoutMs: number; signal: AbortSignal },
) => Promise<MllpConnection>;

/** Runs `body` with a socket on the caller's thread, and with the engine's socket thread. */
function withConnectors(name: string, body: (connect: Connect) => Promise<void>): void {
  Deno.test(name, () => body(connectMllp));
  Deno.test(`${name} (socket thread)`, async () => {
    const connector = new ThreadMllpConnector();
    try {
      // The thread started first (a refused connect): a loaded machine's slow Worker start is not
      // part of the connect that is timed.
      const signal = new AbortController().signal;
      await connector.connect({ host: "127.0.0.1", port: freePort() }, {
        timeoutMs: WAIT_MS,
        signal,
      })
        .then((c) => c.close(), () => {});
      await body((target, options) => connector.connect(target, options));
    } finally {
      connector.close();
    }
  });
}

/** Bound on every wait here, far above the deadlines under test. */
const WAIT_MS = 10_000;

/** A TCP listener that accepts one connection and reads it, never writing a byte. */
class SilentPeer {
  readonly #listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  /** Bytes the client sent (its ClientHello). */
  received = 0;
  /** How the client's side ended: "eof", "error: …", or undefined while open. */
  ended: string | undefined;
  readonly #done: Promise<void>;
  #conn: Deno.Conn | undefined;

  constructor() {
    this.#done = this.#serve();
  }

  get port(): number {
    return (this.#listener.addr as Deno.NetAddr).port;
  }

  async #serve(): Promise<void> {
    let conn: Deno.Conn;
    try {
      conn = await this.#listener.accept();
    } catch {
      return; // closed before a connection came
    }
    this.#conn = conn;
    const buf = new Uint8Array(16 * 1024);
    try {
      for (;;) {
        const n = await conn.read(buf);
        if (n === null) {
          this.ended = "eof";
          return;
        }
        this.received += n;
      }
    } catch (error) {
      this.ended = `error: ${error instanceof Error ? error.message : error}`;
    }
  }

  async close(): Promise<void> {
    this.#listener.close();
    try {
      this.#conn?.close();
    } catch { /* closed already */ }
    await this.#done;
  }
}

/** `connecting`'s rejection, or a failure when it settles otherwise or not within `ms`. */
async function rejection(connecting: Promise<MllpConnection>, ms: number): Promise<Error> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the connect did not end within ${ms} ms`)), ms);
  });
  try {
    const conn = await Promise.race([connecting, late]);
    conn.close();
    assert.fail("the connect succeeded against a peer that never answers the handshake");
  } catch (error) {
    assert.ok(error instanceof Error, String(error));
    if (error.message.startsWith("the connect did not end")) throw error;
    return error;
  } finally {
    clearTimeout(timer);
  }
}

withConnectors(
  "MLLP over TLS: a peer that never answers the handshake fails the connect at the connect timeout, naming the handshake, and its socket is closed",
  async (connect) => {
    const peer = new SilentPeer();
    const where = `127.0.0.1:${peer.port}`;
    try {
      const started = performance.now();
      const error = await rejection(
        connect({ host: "127.0.0.1", port: peer.port, tls: {} }, {
          timeoutMs: 300,
          signal: new AbortController().signal,
        }),
        WAIT_MS,
      );
      const took = performance.now() - started;
      assert.equal(error.message, `TLS handshake with ${where} did not complete within 0.3 s`);
      assert.ok(took >= 250 && took < 4_000, `ended after ${Math.round(took)} ms`);
      // The client did start the handshake (its ClientHello came), and then hung up.
      await waitFor("the peer to see the socket closed", () => peer.ended !== undefined, WAIT_MS);
      assert.ok(peer.received > 0, "no ClientHello reached the peer");
    } finally {
      await peer.close();
    }
  },
);

withConnectors(
  "MLLP over TLS: an abort ends a connect stuck in the handshake at once and closes its socket",
  async (connect) => {
    const peer = new SilentPeer();
    const aborting = new AbortController();
    try {
      const connecting = connect({ host: "127.0.0.1", port: peer.port, tls: {} }, {
        timeoutMs: 60_000,
        signal: aborting.signal,
      });
      connecting.catch(() => {/* awaited below */});
      // In the handshake: TCP is up and the ClientHello reached the peer.
      await waitFor("the ClientHello", () => peer.received > 0, WAIT_MS);
      assert.equal(peer.ended, undefined);
      aborting.abort();
      const error = await rejection(connecting, WAIT_MS);
      assert.match(error.message, /aborted/);
      assert.doesNotMatch(error.message, /within/);
      await waitFor("the peer to see the socket closed", () => peer.ended !== undefined, WAIT_MS);
    } finally {
      aborting.abort();
      await peer.close();
    }
  },
);
