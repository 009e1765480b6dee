/**
 * Bounds on what HTTP(S) clients hold of the engine: how many connections (in all, and per peer
 * address), and per connection how many requests received and not yet answered, and how many
 * bytes of answers wait to be written.
 *
 * Connections: past {@link MAX_HTTP_CONNECTIONS} open in all, or
 * {@link MAX_HTTP_CONNECTIONS_PER_PEER} from one address, a new one is closed as soon as it is
 * accepted (before any TLS handshake), with at most one `http.connection-refused` line per
 * address every 5 s, saying how many were refused (as the MLLP listeners do; the caps are
 * `transports/net/connection_caps.ts`, shared with the hosted SFTP server). Every connection is
 * a file descriptor of the process, shared with the MLLP listeners, the KV store and outbound
 * sockets: without a cap, one client's idle connections exhausted them and stopped MLLP intake.
 *
 * Pipelining: Deno 2.9.6's `node:http` parses every request a client pipelines as fast as it
 * arrives and queues each answer behind the one the client does not read, holding each request
 * and its handler's state: one client that pipelined without reading took gigabytes and starved
 * the event loop. Node's own server pauses such a socket; the polyfill's native parser reads the
 * socket itself (`socket.pause()` alone does not stop it), so this module pauses it the way
 * Node's server does (`socket._paused`, which keeps the polyfill's own reads from resuming it):
 * past {@link PIPELINE_PAUSE} requests unanswered on a connection, or
 * {@link PENDING_BYTES_PAUSE} bytes of answers waiting, the socket is no longer read (TCP then
 * holds the client back); it is read again below half of both. Requests already read in the same
 * chunk (up to 64 KiB) still arrive: past {@link PIPELINE_CLOSE} unanswered (or
 * {@link PENDING_BYTES_CLOSE} bytes waiting while the client has more than one request
 * outstanding) the connection is closed, the requests beyond the bound never reach the app, and
 * one `http.pipeline-overrun` line per address every 5 s names the peer. A client that reads its
 * answers never comes near these bounds; other clients are served meanwhile.
 * @module
 */

import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { Logger } from "../../actors/ports.ts";
import { LogThrottle } from "../../actors/mod.ts";
import { ConnectionCaps, peerAddress } from "../net/connection_caps.ts";

/** The peer's address, IPv4-mapped IPv6 as plain IPv4 (as node_bridge.ts gives it to the app). */
export { peerAddress };

/**
 * Most HTTP(S) connections open at once: 1,000, as one MLLP listener's default
 * (`limits.maxConnectionsPerListener`). An API client needs a handful of keep-alive connections;
 * a thousand leaves room for many clients behind one proxy while keeping the HTTP listener's
 * share of the process's file descriptors known (see `app/fd_limit.ts`).
 */
export const MAX_HTTP_CONNECTIONS = 1000;
/**
 * Most HTTP(S) connections open at once from one address: 100, as the MLLP listeners' default
 * (`limits.maxConnectionsPerPeer`), so that one client cannot take the whole listener.
 */
export const MAX_HTTP_CONNECTIONS_PER_PEER = 100;
/** Requests unanswered on one connection past which it is not read (read again below half). */
export const PIPELINE_PAUSE = 16;
/** Requests unanswered on one connection past which it is closed. */
export const PIPELINE_CLOSE = 128;
/** Bytes of answers waiting to be written on one connection past which it is not read: 1 MiB. */
export const PENDING_BYTES_PAUSE = 1024 * 1024;
/**
 * Bytes of answers waiting on one connection past which it is closed, when the client has more
 * than one request unanswered (one large answer to a slow reader is not a fault): 16 MiB.
 */
export const PENDING_BYTES_CLOSE = 16 * 1024 * 1024;
/** One line per peer address and kind at most this often, with the count since the last. */
const LOG_INTERVAL_MS = 5_000;

/** What {@link limitConnections} takes; every bound has the default above. */
export interface ConnectionLimitsOptions {
  log: Logger;
  maxConnections?: number;
  maxConnectionsPerPeer?: number;
  pipelinePause?: number;
  pipelineClose?: number;
  pendingBytesPause?: number;
  pendingBytesClose?: number;
}

/** The limits attached to one server. */
export interface ConnectionLimits {
  /**
   * Counts a request the server received; false when it must not be served (its connection was
   * closed for an overrun): the caller then leaves it alone.
   */
  admit(req: IncomingMessage, res: ServerResponse): boolean;
  /** Connections open now (those admitted at accept). */
  readonly connections: number;
  /** Requests received and not answered yet, over all connections. */
  readonly unanswered: number;
  /** Connections closed for an overrun since start. */
  readonly overruns: number;
}

/** Sockets closed at accept by a cap (the raw TCP socket under a TLS one). */
const refusedSockets = new WeakSet<object>();

/**
 * Whether `socket` (or, for a TLS socket, the TCP socket under it) was closed at accept by a
 * cap: its TLS handshake then fails ("socket hang up"), which is not worth a line of its own
 * (the refusal was logged, throttled).
 */
export function refusedAtAccept(socket: object): boolean {
  const parent = (socket as { _parent?: unknown })._parent;
  return refusedSockets.has(socket) ||
    (typeof parent === "object" && parent !== null && refusedSockets.has(parent));
}

/** The socket fields Node's server (and Deno's port of it) uses to pause a connection. */
type PausableSocket = IncomingMessage["socket"] & { _paused?: boolean };

interface Pipeline {
  peer: string;
  remote: string;
  /** Answers not finished yet. */
  held: Set<ServerResponse>;
  paused: boolean;
  closed: boolean;
}

/**
 * Attaches the caps to `server` (its `connection` event) and returns the per-request check,
 * which the server's request listener calls first.
 */
export function limitConnections(
  server: Server,
  options: ConnectionLimitsOptions,
): ConnectionLimits {
  const { log } = options;
  const maxConnections = options.maxConnections ?? MAX_HTTP_CONNECTIONS;
  const maxPerPeer = options.maxConnectionsPerPeer ?? MAX_HTTP_CONNECTIONS_PER_PEER;
  const pause = options.pipelinePause ?? PIPELINE_PAUSE;
  const close = options.pipelineClose ?? PIPELINE_CLOSE;
  const pauseBytes = options.pendingBytesPause ?? PENDING_BYTES_PAUSE;
  const closeBytes = options.pendingBytesClose ?? PENDING_BYTES_CLOSE;
  const caps = new ConnectionCaps({
    log,
    event: "http.connection-refused",
    maxConnections,
    maxConnectionsPerPeer: maxPerPeer,
    totalReason: "too many connections on this listener",
    perPeerReason: "too many connections from this address",
  });
  const overrunLog = new LogThrottle(LOG_INTERVAL_MS);
  const pipelines = new WeakMap<PausableSocket, Pipeline>();
  let unanswered = 0;
  let overruns = 0;
  /** Responses that emitted `close`. */
  const closed = new WeakSet<ServerResponse>();
  /**
   * A response queued behind others on a connection that closed never emits `close` in Deno
   * 2.9.6 (only the one holding the socket does): whoever waits on it (a handler awaiting
   * `drain`, the server's count of requests being answered) would wait for ever. It gets its
   * `close` once the connection's own events are through.
   */
  const settle = (res: ServerResponse) => {
    if (res.socket) return; // the one holding the socket closes with it
    const timer = setTimeout(() => {
      if (!closed.has(res)) res.emit("close");
    }, 0);
    Deno.unrefTimer(timer);
  };

  server.on("connection", (socket: PausableSocket) => {
    const peer = peerAddress(socket);
    if (!caps.admit(peer)) {
      refusedSockets.add(socket);
      socket.destroy();
      return;
    }
    socket.once("close", () => caps.release(peer));
  });

  /** Bytes of answers waiting on the connection: in the socket, and queued in its responses. */
  const pendingBytes = (socket: PausableSocket, p: Pipeline): number => {
    // A response queued behind another holds its output itself; the one being written holds
    // the socket, whose `writableLength` counts it.
    let bytes = socket.writableLength;
    for (const res of p.held) if (!res.socket) bytes += res.writableLength;
    return bytes;
  };

  const stopReading = (socket: PausableSocket, p: Pipeline) => {
    p.paused = true;
    socket._paused = true;
    socket.pause();
  };

  /** Reads the connection again once it holds less than half of both bounds. */
  const relieve = (socket: PausableSocket, p: Pipeline) => {
    if (!p.paused || p.closed || socket.destroyed) return;
    if (p.held.size > pause / 2 || pendingBytes(socket, p) > pauseBytes / 2) return;
    p.paused = false;
    socket._paused = false;
    socket.resume();
  };

  const pipelineOf = (socket: PausableSocket): Pipeline => {
    let p = pipelines.get(socket);
    if (p) return p;
    const made: Pipeline = {
      peer: peerAddress(socket),
      remote: `${peerAddress(socket)}:${socket.remotePort ?? 0}`,
      held: new Set(),
      paused: false,
      closed: false,
    };
    pipelines.set(socket, made);
    socket.on("drain", () => relieve(socket, made));
    // The server's own handlers resume a socket whose writes drained; ours stays paused.
    socket.on("resume", () => {
      if (made.paused && !made.closed && !socket.destroyed) {
        socket._paused = true;
        socket.pause();
      }
    });
    socket.once("close", () => {
      made.closed = true;
      unanswered -= made.held.size;
      for (const res of made.held) settle(res);
      made.held.clear();
    });
    p = made;
    return p;
  };

  const overrun = (socket: PausableSocket, p: Pipeline, why: Record<string, unknown>) => {
    p.closed = true;
    overruns++;
    unanswered -= p.held.size;
    for (const res of p.held) settle(res);
    p.held.clear();
    socket.destroy();
    const count = overrunLog.note(p.peer);
    if (count > 0) {
      log.warn("http.pipeline-overrun", {
        remote: p.remote,
        ...why,
        closed: count,
        reason: "the client sent requests without reading the answers; connection closed",
      });
    }
  };

  return {
    admit(req, res) {
      const socket = req.socket as PausableSocket;
      res.once("close", () => closed.add(res));
      if (socket.destroyed || pipelines.get(socket)?.closed) {
        settle(res);
        return false;
      }
      const p = pipelineOf(socket);
      p.held.add(res);
      unanswered++;
      res.once("close", () => {
        if (p.held.delete(res)) unanswered--;
        relieve(socket, p);
      });
      const held = p.held.size;
      if (held > close) {
        overrun(socket, p, { unanswered: held, limit: close });
        return false;
      }
      const bytes = pendingBytes(socket, p);
      if (held > 1 && bytes > closeBytes) {
        overrun(socket, p, { unanswered: held, pendingBytes: bytes, limit: closeBytes });
        return false;
      }
      if (!p.paused && (held >= pause || bytes >= pauseBytes)) stopReading(socket, p);
      return true;
    },
    get connections() {
      return caps.open;
    },
    get unanswered() {
      return unanswered;
    },
    get overruns() {
      return overruns;
    },
  };
}
