/**
 * A TLS listener that can ask for and check client certificates (mutual TLS), which
 * `Deno.listenTls` cannot: `node:tls` underneath, adapted to the small pull-based connection the
 * MLLP server reads from. TLS 1.2 is the floor, as everywhere in the engine.
 * @module
 */

import tls from "node:tls";
import type { Logger } from "../../actors/runtime/log.ts";

/** What the MLLP server needs of a connection; `Deno.Conn` has the same shape. */
export interface ByteConn {
  read(p: Uint8Array): Promise<number | null>;
  write(p: Uint8Array): Promise<number>;
  close(): void;
  readonly remoteAddr: Deno.Addr;
  setNoDelay?(noDelay?: boolean): void;
}

/** A listener yielding {@link ByteConn}s; `Deno.Listener` has the same shape. */
export interface ByteListener extends AsyncIterable<ByteConn> {
  readonly addr: Deno.Addr;
  close(): void;
}

/** Where to listen and what client certificates to accept. */
export interface MutualTlsOptions {
  port: number;
  hostname: string;
  cert: string;
  key: string;
  /** CA bundle that client certificates must chain to. */
  ca: string;
  /** Refuse clients without a valid certificate (otherwise one is asked for but optional). */
  requireClientCert: boolean;
  log: Logger;
}

/** Starts a `node:tls` listener; resolves once it is bound. */
export async function listenMutualTls(options: MutualTlsOptions): Promise<ByteListener> {
  const { log } = options;
  const accepted: ByteConn[] = [];
  let wake: (() => void) | undefined;
  let closed = false;
  const server = tls.createServer({
    cert: options.cert,
    key: options.key,
    ca: options.ca,
    requestCert: true,
    rejectUnauthorized: options.requireClientCert,
    minVersion: "TLSv1.2",
  }, (socket) => {
    // Optional client certificate: one that is presented must still be valid.
    const peer = socket.getPeerCertificate();
    const presented = peer && Object.keys(peer).length > 0;
    if (presented && !socket.authorized) {
      log.warn("mllp.tls-client-refused", {
        port: options.port,
        peer: socket.remoteAddress,
        reason: String(socket.authorizationError),
      });
      socket.destroy();
      return;
    }
    if (presented) {
      log.info("mllp.tls-client", {
        port: options.port,
        peer: socket.remoteAddress,
        subject: peer.subject?.CN,
      });
    }
    accepted.push(new NodeSocketConn(socket));
    wake?.();
  });
  server.on("tlsClientError", (error: Error, socket: tls.TLSSocket) => {
    log.warn("mllp.tls-client-refused", {
      port: options.port,
      peer: socket?.remoteAddress,
      reason: error.message,
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.hostname, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : options.port;
  return {
    addr: { transport: "tcp", hostname: options.hostname, port },
    close() {
      closed = true;
      server.close();
      wake?.();
    },
    async *[Symbol.asyncIterator]() {
      while (true) {
        const next = accepted.shift();
        if (next) {
          yield next;
          continue;
        }
        if (closed) return;
        await new Promise<void>((r) => (wake = r));
        wake = undefined;
      }
    },
  };
}

/** A `node:tls` socket read by pulling, with backpressure on the socket. */
class NodeSocketConn implements ByteConn {
  readonly #socket: tls.TLSSocket;
  readonly remoteAddr: Deno.NetAddr;
  #chunks: Uint8Array[] = [];
  #buffered = 0;
  #ended = false;
  #error: Error | undefined;
  #wake: (() => void) | undefined;

  constructor(socket: tls.TLSSocket) {
    this.#socket = socket;
    this.remoteAddr = {
      transport: "tcp",
      hostname: (socket.remoteAddress ?? "").replace(/^::ffff:/, ""),
      port: socket.remotePort ?? 0,
    };
    socket.on("data", (chunk: Uint8Array) => {
      this.#chunks.push(chunk);
      this.#buffered += chunk.length;
      if (this.#buffered > 1024 * 1024) socket.pause();
      this.#wake?.();
    });
    const end = () => {
      this.#ended = true;
      this.#wake?.();
    };
    socket.on("end", end);
    socket.on("close", end);
    socket.on("error", (error: Error) => {
      this.#error = error;
      end();
    });
  }

  setNoDelay(noDelay = true): void {
    this.#socket.setNoDelay(noDelay);
  }

  async read(p: Uint8Array): Promise<number | null> {
    while (this.#chunks.length === 0) {
      if (this.#error) throw this.#error;
      if (this.#ended) return null;
      await new Promise<void>((r) => (this.#wake = r));
      this.#wake = undefined;
    }
    const chunk = this.#chunks[0]!;
    const n = Math.min(p.length, chunk.length);
    p.set(chunk.subarray(0, n));
    if (n === chunk.length) this.#chunks.shift();
    else this.#chunks[0] = chunk.subarray(n);
    this.#buffered -= n;
    if (this.#buffered <= 1024 * 1024 && this.#socket.isPaused()) this.#socket.resume();
    return n;
  }

  write(p: Uint8Array): Promise<number> {
    return new Promise((resolve, reject) => {
      this.#socket.write(p, (error?: Error | null) => error ? reject(error) : resolve(p.length));
    });
  }

  close(): void {
    this.#socket.destroy();
  }
}
