/**
 * A TLS listener that can ask for and check client certificates (mutual TLS), which
 * `Deno.listenTls` cannot: `node:tls` underneath, adapted to the small pull-based connection the
 * MLLP server reads from. TLS 1.2 is the floor, as everywhere in the engine. A refused handshake is
 * logged as `mllp.tls-client-refused` with its cause in words (`transports/net/tls_reason.ts`):
 * the library itself says only "socket hang up" when it refuses a client certificate.
 * @module
 */

import type { X509Certificate } from "node:crypto";
import type net from "node:net";
import tls from "node:tls";
import type { Logger } from "../../actors/ports.ts";
import { watchAccepts } from "../net/accept_watch.ts";
import { LogThrottle } from "../../actors/mod.ts";
import { errorMessage } from "../../actors/mod.ts";
import {
  caCertificates,
  type PresentedCertificate,
  refusedCertificateReason,
  tlsFailureReason,
} from "../net/tls_reason.ts";

/** What the MLLP server needs of a connection; `Deno.Conn` has the same shape. */
export interface ByteConn {
  read(p: Uint8Array): Promise<number | null>;
  write(p: Uint8Array): Promise<number>;
  /** Ends the write side (FIN, after TLS close_notify) while reading goes on. */
  closeWrite(): Promise<void>;
  close(): void;
  readonly remoteAddr: Deno.Addr;
  setNoDelay?(noDelay?: boolean): void;
}

/**
 * A listener yielding {@link ByteConn}s; `Deno.Listener` has the same shape. `accept` rejects
 * with `Deno.errors.BadResource` once the listener is closed.
 */
export interface ByteListener {
  readonly addr: Deno.Addr;
  accept(): Promise<ByteConn>;
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
  /** How often the listener's accept queue is read (`transports/net/accept_watch.ts`), 5 s. */
  acceptWatchIntervalMs?: number;
  /** The clock timing the throttled `mllp.tls-client-refused` lines, ms; `performance.now`. */
  now?: () => number;
}

/** Starts a `node:tls` listener; resolves once it is bound. */
export async function listenMutualTls(options: MutualTlsOptions): Promise<ByteListener> {
  const { log } = options;
  const accepted: ByteConn[] = [];
  let waiter: { resolve(conn: ByteConn): void; reject(error: Error): void } | undefined;
  let closed = false;
  // A flood of failed or refused handshakes (a scanner, peers resetting mid-handshake, a client
  // presenting a bad certificate in a loop) becomes a few lines: one per address and reason every
  // 5 s, with `count` when it stands for more than one.
  const refusals = new LogThrottle(5_000, options.now);
  const refuse = (peer: string | undefined, reason: string) => {
    const count = refusals.note(`${peer} ${reason}`);
    if (count > 0) {
      log.warn("mllp.tls-client-refused", {
        port: options.port,
        peer,
        reason,
        ...(count > 1 ? { count } : {}),
      });
    }
  };
  // To name why a client certificate was refused: the CA bundle, and each client's certificate
  // as seen before the library judged it (once it refused one, the certificate is gone).
  const cas = caCertificates(options.ca);
  const seen = new WeakMap<tls.TLSSocket, X509Certificate>();
  const presentedOf = (cert: X509Certificate | undefined): PresentedCertificate | undefined =>
    cert ? { cert, cas } : undefined;
  const server = tls.createServer({
    cert: options.cert,
    key: options.key,
    ca: options.ca,
    requestCert: true,
    rejectUnauthorized: options.requireClientCert,
    minVersion: "TLSv1.2",
  }, (socket) => {
    // A peer may reset at any moment: nothing here may throw into node's event emitter.
    socket.on("error", () => {/* the connection's own listener below reports it */});
    seen.delete(socket);
    try {
      // Optional client certificate: one that is presented must still be valid.
      const peer = socket.getPeerCertificate();
      const presented = peer && Object.keys(peer).length > 0;
      if (presented && !socket.authorized) {
        refuse(
          peerOf(socket),
          refusedCertificateReason(socket.authorizationError, presentedOf(peerX509(socket))),
        );
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
    } catch (error) {
      refuse(peerOf(socket), errorMessage(error));
      socket.destroy();
      return;
    }
    const conn = new NodeSocketConn(socket);
    if (closed) conn.close();
    else if (waiter) {
      const w = waiter;
      waiter = undefined;
      w.resolve(conn);
    } else accepted.push(conn);
  });
  // Registered after the server's own: the TLS socket exists by now. (Client certificates
  // optional: a refused one is judged in the listener above, certificate at hand.)
  if (options.requireClientCert) {
    server.on("connection", (raw: net.Socket) => keepPeerCertificate(raw, seen));
  }
  server.on("tlsClientError", (error: Error, socket: tls.TLSSocket) => {
    // A refused client certificate arrives as "socket hang up": the reason is on the socket.
    const reason = tlsFailureReason(error, socket, presentedOf(socket && seen.get(socket)));
    refuse(socket ? peerOf(socket) : undefined, reason);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.hostname, () => {
      server.off("error", reject);
      resolve();
    });
  });
  // Errors accepting a connection (EMFILE…) come here once listening: logged, never thrown.
  server.on("error", (error: Error) => {
    log.warn("mllp.accept-error", { port: options.port, reason: error.message });
  });
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : options.port;
  // Deno's node:tls stops accepting for good after one failed accept (out of file descriptors).
  const watch = watchAccepts({
    server,
    hostname: options.hostname,
    port,
    name: "mllp",
    log,
    intervalMs: options.acceptWatchIntervalMs,
  });
  return {
    addr: { transport: "tcp", hostname: options.hostname, port },
    close() {
      closed = true;
      watch.stop();
      server.close();
      for (const conn of accepted.splice(0)) conn.close();
      const w = waiter;
      waiter = undefined;
      w?.reject(new Deno.errors.BadResource("listener closed"));
    },
    accept() {
      const next = accepted.shift();
      if (next) return Promise.resolve(next);
      if (closed) return Promise.reject(new Deno.errors.BadResource("listener closed"));
      if (waiter) return Promise.reject(new Error("accept: another accept is already waiting"));
      return new Promise<ByteConn>((resolve, reject) => (waiter = { resolve, reject }));
    },
  };
}

/**
 * A `node:tls` socket read by pulling, with backpressure on the socket: what the listener yields,
 * and the outbound TLS connection of client.ts.
 */
export class NodeSocketConn implements ByteConn {
  readonly #socket: tls.TLSSocket;
  readonly remoteAddr: Deno.NetAddr;
  readonly localAddr: Deno.NetAddr;
  #chunks: Uint8Array[] = [];
  #buffered = 0;
  #ended = false;
  #error: Error | undefined;
  #wake: (() => void) | undefined;

  constructor(socket: tls.TLSSocket) {
    this.#socket = socket;
    this.remoteAddr = netAddr(socket.remoteAddress, socket.remotePort);
    this.localAddr = netAddr(socket.localAddress, socket.localPort);
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

  setKeepAlive(keepAlive = true): void {
    this.#socket.setKeepAlive(keepAlive);
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
    const socket = this.#socket;
    if (socket.destroyed) return Promise.reject(new Deno.errors.BadResource("connection closed"));
    return new Promise((resolve, reject) => {
      socket.write(p, (error?: Error | null) => error ? reject(error) : resolve(p.length));
    });
  }

  closeWrite(): Promise<void> {
    const socket = this.#socket;
    if (socket.destroyed) return Promise.reject(new Deno.errors.BadResource("connection closed"));
    return new Promise((resolve) => {
      // "close" too: a socket destroyed meanwhile never reports "finish".
      socket.once("close", () => resolve());
      socket.end(() => resolve());
    });
  }

  close(): void {
    this.#socket.destroy();
  }
}

/** The peer's certificate, when there is one and it can be read. */
function peerX509(socket: tls.TLSSocket): X509Certificate | undefined {
  try {
    return socket.getPeerX509Certificate() ?? undefined;
  } catch {
    return undefined;
  }
}

/**
 * Keeps the client certificate of the TLS socket over `raw` in `seen`, read when the handshake
 * completes, just before `node:tls` judges it: when it refuses the certificate it destroys the
 * socket, and the certificate is gone by the time `tlsClientError` says "socket hang up". Only
 * reads; the verdict stays the library's. The TLS socket is found as the owner of the TCP
 * handle (Deno 2.9.6's `node:tls` internals); where it is not, nothing is kept and the reason
 * is the library's code alone.
 */
function keepPeerCertificate(raw: net.Socket, seen: WeakMap<tls.TLSSocket, X509Certificate>) {
  try {
    const handle = (raw as net.Socket & { _handle?: Record<symbol, unknown> })._handle;
    if (!handle) return;
    const owner = Object.getOwnPropertySymbols(handle)
      .filter((key) => key.description === "ownerSymbol")
      .map((key) => handle[key])
      .find((value) => value instanceof tls.TLSSocket);
    if (!(owner instanceof tls.TLSSocket)) return;
    owner.prependOnceListener("secure", () => {
      const cert = peerX509(owner);
      if (cert) seen.set(owner, cert);
    });
  } catch { /* the reason is the library's code alone */ }
}

/**
 * The peer's address, IPv4-mapped IPv6 as plain IPv4; from the TCP socket under the TLS one when
 * the handshake failed (Deno 2.9.6's TLS socket then no longer knows it).
 */
function peerOf(socket: tls.TLSSocket): string | undefined {
  const parent = (socket as tls.TLSSocket & { _parent?: { remoteAddress?: string } })._parent;
  const address = socket.remoteAddress ?? parent?.remoteAddress;
  return address?.startsWith("::ffff:") && address.includes(".") ? address.slice(7) : address;
}

function netAddr(hostname: string | undefined, port: number | undefined): Deno.NetAddr {
  return { transport: "tcp", hostname: (hostname ?? "").replace(/^::ffff:/, ""), port: port ?? 0 };
}
