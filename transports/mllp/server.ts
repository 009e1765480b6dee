/**
 * MLLP listeners: bind, accept connections (see accept_loop.ts: an error on one connection never
 * stops the listener), enforce the connection caps, and serve each connection (see
 * inbound_connection.ts: frames answered in order, idle and frame timeouts, over-size `AR`).
 * @module
 */

import type { Logger, MllpInbox } from "../../actors/ports.ts";
import { type AcceptLoop, startAcceptLoop } from "./accept_loop.ts";
import {
  type DrainTally,
  handleInboundConnection,
  type InboundHandle,
  PEER_LOG_BURST,
  PEER_LOG_INTERVAL_MS,
} from "./inbound_connection.ts";
import { LogThrottle } from "../../actors/mod.ts";
import { type ByteConn, type ByteListener, listenMutualTls } from "./node_tls.ts";
import { errorMessage } from "../../actors/mod.ts";

/** Where and how to listen. */
export interface MllpServerOptions {
  port: number;
  hostname?: string;
  /**
   * PEM certificate and key: TLS 1.2+ when set. With `ca`, clients are asked for a certificate
   * that must chain to it (and must present one when `requireClientCert`): mutual TLS.
   */
  tls?: { cert: string; key: string; ca?: string; requireClientCert?: boolean };
  /**
   * Whether a frame must end with FS CR, as MLLP says (default true). False also ends a frame at
   * an FS alone, for senders that leave the CR out; FS never occurs in HL7 text.
   */
  requireFinalCr?: boolean;
  /** A started frame must end within this many ms, or the connection is closed (60 000). */
  frameTimeoutMs?: number;
  /** Most open connections on this listener; more are closed at once and logged (1000). */
  maxConnections?: number;
  /** Most open connections from one peer address on this listener (100). */
  maxConnectionsPerPeer?: number;
  /** After an over-size `AR`, how long what the peer still sends is read and dropped (5000). */
  oversizeDrainMs?: number;
  /**
   * The clock timing the throttled per-connection lines (inbound_connection.ts: failed reads,
   * stray bytes, truncated frames...), milliseconds; `performance.now` when absent.
   */
  now?: () => number;
  inbox: MllpInbox;
  log: Logger;
}

/** A running listener. */
export interface MllpServer {
  /** The bound port (useful with port 0). */
  readonly port: number;
  /** Connections currently open. */
  readonly connections: number;
  /**
   * True while the accept loop runs and is not pausing after an error (out of file descriptors);
   * false once it has stopped, or after close().
   */
  readonly accepting: boolean;
  /**
   * Frames received on the open connections and not answered yet (their commits under way, or
   * queued behind one), summed.
   */
  readonly unanswered: number;
  /**
   * Stops gracefully: accepts no more connections; on each open one, answers every frame received
   * so far (its commit finishes, its ACK is written), answers frames completed from now on with
   * the stop answer (`AE`, not stored), then closes it (see inbound_connection.ts). Resolves
   * once every connection is closed, at `deadline` (`performance.now()` time) at the latest, when
   * what is still unanswered is cut off. Calling it again returns the same promise.
   */
  drain(deadline: number): Promise<MllpDrainReport>;
  /**
   * Stops accepting and closes every connection at once (after a drain: what it left), then waits
   * for their handlers (after a drain, no longer than its deadline).
   */
  close(): Promise<void>;
}

/** How an MLLP listener's {@link MllpServer.drain} went. */
export interface MllpDrainReport extends DrainTally {
  /** The listener's port. */
  port: number;
  /** Connections open when the drain began. */
  connections: number;
}

/** Starts a listener; resolves once it is bound, or rejects naming the address it could not bind. */
export async function serveMllp(options: MllpServerOptions): Promise<MllpServer> {
  return (await bindMllp(options)).serve(options.inbox);
}

/**
 * A bound listening socket that does not accept yet: the kernel queues connections until
 * {@link BoundMllpListener.serve}. With port 0 this is how the composition root learns the port
 * (an integration's identity) before the engine that needs it starts.
 */
export interface BoundMllpListener {
  /** The bound port (the configured one, or the one the system chose for port 0). */
  readonly port: number;
  /** Starts accepting: frames go to `inbox`. Call once. */
  serve(inbox: MllpInbox): MllpServer;
  /** Closes the socket without serving (a later step failed). */
  close(): void;
}

/** Binds like {@link serveMllp} without accepting; rejects naming the address it could not bind. */
export async function bindMllp(
  options: Omit<MllpServerOptions, "inbox">,
): Promise<BoundMllpListener> {
  const hostname = options.hostname ?? "0.0.0.0";
  const listener = await bind(options, hostname, options.log);
  const port = (listener.addr as Deno.NetAddr).port;
  let served = false;
  return {
    port,
    serve(inbox) {
      if (served) throw new Error(`the MLLP listener on port ${port} is already served`);
      served = true;
      return serveBound(listener, port, hostname, { ...options, inbox });
    },
    close() {
      if (served) return;
      try {
        listener.close();
      } catch { /* already closed */ }
    },
  };
}

function serveBound(
  listener: ByteListener,
  port: number,
  hostname: string,
  options: MllpServerOptions,
): MllpServer {
  const { inbox, log } = options;
  const frameTimeoutMs = options.frameTimeoutMs ?? 60_000;
  const maxConnections = options.maxConnections ?? 1000;
  const maxPerPeer = options.maxConnectionsPerPeer ?? 100;
  const oversizeDrainMs = options.oversizeDrainMs ?? 5_000;
  const open = new Set<ByteConn>();
  const perPeer = new Map<string, number>();
  const handlers = new Set<Promise<void>>();
  /** How to drain each open connection (inbound_connection.ts). */
  const drains = new Map<ByteConn, InboundHandle>();
  /** Set once a drain began: its deadline, tally and promise. */
  let draining: { deadline: number; tally: DrainTally } | undefined;
  let drained: Promise<MllpDrainReport> | undefined;
  const refusals = new LogThrottle(5_000);
  // The lines a peer can cause once per connection: a few per address and event every 5 s.
  const peerLog = new LogThrottle(PEER_LOG_INTERVAL_MS, options.now, { burst: PEER_LOG_BURST });

  const refuse = (conn: ByteConn, peer: string, reason: string, cap: number) => {
    try {
      conn.close();
    } catch { /* already closed */ }
    const refused = refusals.note(peer);
    if (refused > 0) log.warn("mllp.connection-refused", { port, peer, reason, cap, refused });
  };

  const onConnection = (conn: ByteConn) => {
    const peer = peerOf(conn);
    if (!peer) {
      // Reset before it could be served: there is no one to answer.
      try {
        conn.close();
      } catch { /* already closed */ }
      return;
    }
    const fromPeer = perPeer.get(peer.ip) ?? 0;
    if (open.size >= maxConnections) {
      return refuse(conn, peer.ip, "too many connections on this listener", maxConnections);
    }
    if (fromPeer >= maxPerPeer) {
      return refuse(conn, peer.ip, "too many connections from this address", maxPerPeer);
    }
    open.add(conn);
    perPeer.set(peer.ip, fromPeer + 1);
    const h = handleInboundConnection({
      conn,
      localPort: port,
      peerIp: peer.ip,
      peerPort: peer.port,
      inbox,
      log,
      requireFinalCr: options.requireFinalCr ?? true,
      frameTimeoutMs,
      oversizeDrainMs,
      peerLog,
      onOpen: (handle) => {
        drains.set(conn, handle);
        // Accepted as the stop began: it drains at once (it is closed with a FIN, not a reset).
        if (draining) void handle.drain(draining.deadline, draining.tally);
      },
    }).catch((error) => {
      // Not expected (the handler contains its failures); logged rather than left unhandled.
      log.warn("mllp.connection-error", { port, peer: peer.ip, reason: errorMessage(error) });
    }).finally(() => {
      try {
        conn.close();
      } catch { /* already closed */ }
      open.delete(conn);
      drains.delete(conn);
      const left = (perPeer.get(peer.ip) ?? 1) - 1;
      if (left > 0) perPeer.set(peer.ip, left);
      else perPeer.delete(peer.ip);
      handlers.delete(h);
    });
    handlers.add(h);
  };

  const loop: AcceptLoop = startAcceptLoop({ listener, port, log, onConnection });
  log.info("mllp.listening", {
    port,
    hostname,
    tls: options.tls ? (options.tls.ca ? "mutual" : "server") : "none",
  });

  const stopAccepting = () => {
    const stopped = loop.stop();
    try {
      listener.close();
    } catch { /* already closed */ }
    return stopped;
  };

  return {
    port,
    get connections() {
      return open.size;
    },
    get accepting() {
      return loop.accepting;
    },
    get unanswered() {
      let n = 0;
      for (const handle of drains.values()) n += handle.unanswered;
      return n;
    },
    drain(deadline) {
      if (drained) return drained;
      const tally: DrainTally = { answered: 0, refused: 0, unanswered: 0, senders: 0 };
      const connections = open.size;
      draining = { deadline, tally };
      const stopped = stopAccepting();
      const each = [...drains.values()].map((h) => h.drain(deadline, tally));
      drained = Promise.all([...each, stopped]).then(() => ({ port, connections, ...tally }));
      return drained;
    },
    async close() {
      const stopped = stopAccepting();
      for (const c of open) {
        try {
          c.close();
        } catch { /* already closed */ }
      }
      await stopped;
      const settled = Promise.allSettled([...handlers]);
      if (!draining) return void await settled;
      // A handler whose commit never ends (a hung disk) does not hold the stop past the grace.
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        settled,
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, Math.max(0, draining!.deadline - performance.now()));
        }),
      ]);
      clearTimeout(timer);
    },
  };
}

/** Opens the listening socket; a failure names the address (`cannot bind 0.0.0.0:2575: …`). */
async function bind(
  options: Omit<MllpServerOptions, "inbox">,
  hostname: string,
  log: Logger,
): Promise<ByteListener> {
  const tlsOptions = options.tls;
  try {
    if (tlsOptions?.ca || tlsOptions?.requireClientCert) {
      return await listenMutualTls({
        port: options.port,
        hostname,
        cert: tlsOptions.cert,
        key: tlsOptions.key,
        ca: requireCa(tlsOptions.ca),
        requireClientCert: tlsOptions.requireClientCert ?? false,
        log,
        ...(options.now ? { now: options.now } : {}),
      });
    }
    return tlsOptions
      ? Deno.listenTls({ port: options.port, hostname, cert: tlsOptions.cert, key: tlsOptions.key })
      : Deno.listen({ port: options.port, hostname });
  } catch (error) {
    const address = `${hostname}:${options.port}`;
    const reason = bindFailure(error);
    throw new Error(
      reason
        ? `MLLP listener cannot bind ${address}: ${reason}`
        : `MLLP listener on ${address} cannot start: ${errorMessage(error)}`,
      { cause: error },
    );
  }
}

/** A short reason when `error` is about the address itself, else undefined. */
function bindFailure(error: unknown): string | undefined {
  const code = (error as { code?: unknown })?.code;
  if (error instanceof Deno.errors.AddrInUse || code === "EADDRINUSE") {
    return "address already in use";
  }
  if (error instanceof Deno.errors.AddrNotAvailable || code === "EADDRNOTAVAIL") {
    return "address not available on this host";
  }
  if (error instanceof Deno.errors.PermissionDenied || code === "EACCES") {
    return "permission denied (ports below 1024 need privileges)";
  }
  return undefined;
}

function requireCa(ca: string | undefined): string {
  if (!ca) throw new Error("a listener that requires client certificates needs tls.ca");
  return ca;
}

/** The peer's address, or undefined when the connection is already gone (reading it throws). */
function peerOf(conn: ByteConn): { ip: string; port: number } | undefined {
  try {
    const addr = conn.remoteAddr as Deno.NetAddr;
    if (!addr?.hostname) return undefined;
    return { ip: addr.hostname, port: addr.port };
  } catch {
    return undefined;
  }
}
