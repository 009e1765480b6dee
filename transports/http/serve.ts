/**
 * Serving the public HTTP app (token, endpoint, admin...) with `node:http` / `node:https`: HTTPS
 * with the config's certificate and key, plain HTTP only where the config marks the listener as
 * for development. HTTP/1.1 only.
 *
 * Why not `Deno.serve`: it has no header timeout at all (Deno 2.9.6: a client that trickles its
 * headers, or connects and sends nothing, holds its connection for ever). Node's server enforces
 * them: a TLS handshake and the request headers must complete within
 * `limits.httpHeaderTimeoutSeconds` (else `408` and close); a body must arrive within
 * `limits.httpBodyTimeoutSeconds` of its headers (node_bridge.ts: the handler answers `408`
 * with a JSON error and `Connection: close`; a server-wide backstop closes any request still
 * open 5 s after both); request line and headers over 16 KiB get `431` and close; anything
 * that is not HTTP gets `400` and close. A body whose framing breaks mid-request (malformed
 * chunked encoding) fails the handler's read with a `BodyFramingError` (node_bridge.ts): the app
 * answers (`POST /endpoint`: `400`) with `Connection: close`, then the connection closes. Each
 * of these is logged (`http.client-error`, with `refused`: how many it stands for), at most
 * {@link CLIENT_ERROR_BURST} lines per client address every 5 s, then one per 5 s counting those
 * held back: a client with an occasional bad request keeps a line for each, a flood does not
 * fill the log. A TLS handshake that fails (a port scanner, plain HTTP to the HTTPS port, a
 * client offering only TLS 1.0, or one that times out) is logged once per client address every
 * 5 s (`http.tls-failed`, with its `reason` and `failed`: how many handshakes from the address
 * failed since the last line, this one included).
 * The cost, measured with bench/https_ingress.ts on this project's 2-core machine (64 keep-alive
 * TLS clients, one round each, noisy): a bare handler answers about 5,800 requests/s instead of
 * 16,000, the durable `POST /endpoint` about 2,300 instead of 3,200 (a quarter fewer).
 *
 * TLS policy: Deno's `node:tls` terminates TLS with rustls, which offers TLS 1.3 and TLS 1.2 only,
 * and on TLS 1.2 only ECDHE key exchange with AEAD ciphers (AES-GCM, ChaCha20-Poly1305): no TLS
 * 1.0/1.1, no RSA key exchange, no CBC, no SHA-1 MACs. With an RSA certificate the suites
 * accepted are TLS_AES_256_GCM_SHA384, TLS_AES_128_GCM_SHA256, TLS_CHACHA20_POLY1305_SHA256 (1.3)
 * and ECDHE-RSA-AES256-GCM-SHA384, ECDHE-RSA-AES128-GCM-SHA256, ECDHE-RSA-CHACHA20-POLY1305 (1.2);
 * with an ECDSA certificate the ECDHE-ECDSA counterparts. tests/transports/http/tls_policy_test.ts
 * checks this list against every suite openssl knows.
 *
 * Sockets have TCP_NODELAY, and an answer of known length up to 1 MiB goes out with its headers in
 * one write (node_bridge.ts), so no answer waits for the client's delayed ACK (Nagle's algorithm;
 * bench/https_respond.ts times answers of known and unknown length).
 * @module
 */

import { createServer as createHttpServer, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { Duplex } from "node:stream";
import type { Config, LimitsConfig, Logger } from "../../actors/ports.ts";
import { bridgeRequest, refuseBodyFraming } from "./node_bridge.ts";
import { errorMessage } from "../../actors/mod.ts";
import { watchAccepts } from "../net/accept_watch.ts";
import { tlsFailureReason } from "../net/tls_reason.ts";
import { limitConnections, peerAddress, refusedAtAccept } from "./connection_limits.ts";
import { LogThrottle } from "../../actors/mod.ts";
import { PeerLog } from "./peer_log.ts";

/** What the server passes to the app as Hono's `env` (the shape `Deno.serve` passes). */
export type ServeInfo = Pick<Deno.ServeHandlerInfo<Deno.NetAddr>, "remoteAddr" | "completed"> & {
  /**
   * The trusted proxy (TCP peer) the request came through, when `remoteAddr` is the client its
   * `X-Forwarded-For` names (`http.trustedProxies`; forwarded_for.ts); absent otherwise.
   */
  via?: Deno.NetAddr;
};

/** What the server calls: a Hono app's `fetch` fits. */
export type FetchHandler = (request: Request, info: ServeInfo) => Response | Promise<Response>;

/** Largest request line plus headers, bytes (Node's default); larger gets 431. */
export const MAX_HEADER_BYTES = 16 * 1024;
/** How long past the header and body timeouts a request may stay open at most. */
const BACKSTOP_MS = 5_000;
/** How long in-flight requests get to finish on shutdown before their connections are closed. */
const SHUTDOWN_GRACE_MS = 10_000;
/** `Retry-After` of the `503` a request gets once the shutdown began, seconds. */
export const STOPPING_RETRY_AFTER_SECONDS = 30;
/** The interval of the `http.tls-failed` and `http.client-error` throttles, per client address. */
export const CONNECTION_LOG_INTERVAL_MS = 5_000;
/** `http.client-error` lines per client address and interval before they are only counted. */
export const CLIENT_ERROR_BURST = 20;

/** What {@link servePublic} needs. */
export interface ServePublicOptions {
  /** The app to serve (pass `app.fetch`). */
  fetch: FetchHandler;
  /** The config's `http` section: port, hostname, tls, development, trustedProxies. */
  http:
    & Pick<Config["http"], "port" | "hostname" | "tls" | "development">
    & Partial<Pick<Config["http"], "trustedProxies">>;
  /** The header and body timeouts (30 s and 60 s when absent, the config's defaults). */
  limits?:
    & Pick<LimitsConfig, "httpHeaderTimeoutSeconds" | "httpBodyTimeoutSeconds">
    & Partial<Pick<LimitsConfig, "maxHttpConnections" | "maxHttpConnectionsPerPeer">>;
  log: Logger;
  /** Stops the server when aborted (same as {@link PublicServer.shutdown}). */
  signal?: AbortSignal;
  /** How often the listener's accept queue is read (`transports/net/accept_watch.ts`), 5 s. */
  acceptWatchIntervalMs?: number;
  /**
   * The clock timing the throttled per-connection lines (`http.tls-failed`,
   * `http.client-error`), milliseconds: `performance.now` when absent (tests pass a manual one).
   */
  now?: () => number;
}

/** A running public server. */
export interface PublicServer {
  /** The port bound (useful when the config says 0). */
  readonly port: number;
  readonly hostname: string;
  /** True when serving HTTPS. */
  readonly tls: boolean;
  /** Requests being answered now. */
  readonly answering: number;
  /**
   * Stops accepting, lets requests in flight finish (`graceMs`, 10 s by default; then their
   * connections are closed), answers a request that comes meanwhile on an open connection `503`
   * with `Retry-After` and `Connection: close` (the app never sees it), then resolves with how it
   * went. Calling it again (or {@link shutdown}) joins the stop under way.
   */
  drain(graceMs?: number): Promise<HttpDrainReport>;
  /** {@link drain} with the default grace, without the report. */
  shutdown(): Promise<void>;
  /** Resolves when the server has stopped. */
  readonly finished: Promise<void>;
}

/** How a {@link PublicServer.drain} went. */
export interface HttpDrainReport {
  /** Requests in flight when it began that were answered in full. */
  answered: number;
  /** Requests that came after it began: answered `503`. */
  refused: number;
  /** Requests whose connection was closed at the grace before their answer was complete. */
  unanswered: number;
}

/**
 * Starts the server. Rejects, before listening, when the config asks for something it cannot do:
 * plain HTTP outside development, client certificates, or an empty certificate or key; when the
 * certificate and key cannot be loaded; and when the address cannot be bound.
 */
export async function servePublic(options: ServePublicOptions): Promise<PublicServer> {
  const { http, log } = options;
  const tls = http.tls;
  if (!tls && !http.development) {
    throw new Error(
      'http: refusing to serve plain HTTP: configure http.tls (cert and key), or set "development": true for a development listener',
    );
  }
  if (tls && (tls.requireClientCert || tls.ca)) {
    throw new Error(
      "http.tls: client certificates (ca, requireClientCert) are not supported on the HTTP listener: " +
        "remove them or terminate mutual TLS in a proxy",
    );
  }
  const cert = tls?.cert.reveal().trim();
  const key = tls?.key.reveal().trim();
  if (tls && (!cert || !key)) {
    throw new Error(
      `http.tls: the ${
        !cert ? `certificate (${tls.cert.source})` : `key (${tls.key.source})`
      } is empty`,
    );
  }
  if (tls) {
    // Node's server would only fail at the first handshake: load the pair now, with the same
    // TLS stack, so a bad certificate stops the start with a reason.
    try {
      Deno.listenTls({ hostname: "127.0.0.1", port: 0, cert: cert!, key: key! }).close();
    } catch (error) {
      throw new Error(
        `http.tls: cannot serve with the certificate (${tls.cert.source}) and key (${tls.key.source}): ${
          errorMessage(error)
        }`,
      );
    }
  }
  const headerMs = (options.limits?.httpHeaderTimeoutSeconds ?? 30) * 1000;
  const bodyMs = (options.limits?.httpBodyTimeoutSeconds ?? 60) * 1000;
  const serverOptions = {
    headersTimeout: headerMs,
    requestTimeout: headerMs + bodyMs + BACKSTOP_MS,
    // How often Node looks for connections past those timeouts (its default is 30 s).
    connectionsCheckingInterval: Math.min(1000, headerMs / 2),
    keepAliveTimeout: 5_000,
    maxHeaderSize: MAX_HEADER_BYTES,
    noDelay: true,
    ...(tls ? { cert: cert!, key: key!, handshakeTimeout: headerMs } : {}),
  };
  const scheme = tls ? "https" : "http";
  let origin = "";
  /** The shutdown began: a request now gets `503`. */
  let draining = false;
  // A client can stall one body per request: `http.body-timeout` is throttled per address.
  const bodyTimeoutLog = new PeerLog(log, { burst: CLIENT_ERROR_BURST, now: options.now });
  // A proxy sending bad X-Forwarded-For sends it on every request: one line per proxy and reason.
  const forwardedLog = new PeerLog(log, { now: options.now });
  const listener = (
    req: Parameters<typeof bridgeRequest>[0],
    res: Parameters<typeof bridgeRequest>[1],
  ) => {
    // Past the connection's pipelining bound it was closed: the request is not served.
    if (!limits.admit(req, res)) return;
    if (draining) return refuseStopping(res);
    void bridgeRequest(req, res, {
      fetch: options.fetch,
      origin,
      bodyTimeoutMs: bodyMs,
      log,
      peerLog: bodyTimeoutLog,
      ...(http.trustedProxies ? { trustedProxies: http.trustedProxies, forwardedLog } : {}),
    });
  };
  const server: Server = tls
    ? createHttpsServer(serverOptions, listener)
    : createHttpServer(serverOptions, listener);
  // Connection caps, and the bound on requests a connection holds unanswered.
  const limits = limitConnections(server, {
    log,
    ...(options.limits?.maxHttpConnections !== undefined
      ? { maxConnections: options.limits.maxHttpConnections }
      : {}),
    ...(options.limits?.maxHttpConnectionsPerPeer !== undefined
      ? { maxConnectionsPerPeer: options.limits.maxHttpConnectionsPerPeer }
      : {}),
  });
  // Lines a client can cause once per connection, without authenticating: per address, a burst
  // every 5 s at most, then one counting those held back (memory bounded: LogThrottle).
  const clientErrors = new LogThrottle(CONNECTION_LOG_INTERVAL_MS, options.now, {
    burst: CLIENT_ERROR_BURST,
  });
  server.on("clientError", (error: Error & { code?: string }, socket: Duplex) => {
    answerClientError(error, socket, headerMs / 1000, log, clientErrors);
  });
  // A proxy's CONNECT (Node hands it here, not to the handler): nothing here tunnels; told so
  // instead of the connection just closing.
  server.on("connect", (_req: unknown, socket: Duplex) => {
    endWithJson(socket, 405, "Method Not Allowed", "the method CONNECT is not served here");
  });
  if (tls) {
    const tlsFailures = new LogThrottle(CONNECTION_LOG_INTERVAL_MS, options.now);
    // A failed or stalled handshake: the peer gets nothing to read; a line for the operator.
    server.on("tlsClientError", (error: Error & { code?: string }, socket: Duplex) => {
      // A connection refused at accept by a cap was logged there (throttled).
      if (!refusedAtAccept(socket)) {
        const failed = tlsFailures.note(addressOf(socket));
        if (failed > 0) {
          log.warn("http.tls-failed", {
            remote: remoteOf(socket),
            reason: tlsFailureReason(error, socket),
            failed,
          });
        }
      }
      socket.destroy();
    });
  }
  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(http.port, http.hostname, () => {
        server.off("error", reject);
        resolve();
      });
    });
  } catch (error) {
    // The cause is kept: callers (and tests choosing ports ahead) tell a taken port by its code.
    throw new Error(
      `http: cannot listen on ${http.hostname}:${http.port}: ${errorMessage(error)}`,
      {
        cause: error,
      },
    );
  }
  server.on("error", (error) => log.error("http.failed", { error }));
  const addr = server.address();
  const port = typeof addr === "object" && addr ? addr.port : http.port;
  const hostname = typeof addr === "object" && addr ? addr.address : http.hostname;
  origin = `${scheme}://${hostname.includes(":") ? `[${hostname}]` : hostname}:${port}`;
  // Deno's node:http stops accepting for good after one failed accept (out of file descriptors).
  const watch = watchAccepts({
    server,
    hostname: http.hostname,
    port,
    name: "http",
    log,
    intervalMs: options.acceptWatchIntervalMs,
  });
  const finished = new Promise<void>((resolve) => server.once("close", () => resolve()));
  // Requests being answered: shutdown waits for these, and for nothing else. `closeIdleConnections`
  // leaves a connection that has not sent a request yet (a client's spare or a probe's), which
  // held every shutdown for the whole grace.
  let answering = 0;
  let answered: (() => void) | undefined;
  const report: HttpDrainReport = { answered: 0, refused: 0, unanswered: 0 };
  server.on("request", (_req, res: ServerResponse) => {
    answering++;
    // In flight when the shutdown began (a 503 of the shutdown is counted as refused).
    const inFlight = !draining;
    res.once("close", () => {
      if (draining && inFlight) {
        if (res.writableFinished) report.answered++;
        else report.unanswered++;
      }
      if (--answering === 0) answered?.();
    });
  });
  let stopping: Promise<HttpDrainReport> | undefined;
  const drain = (graceMs = SHUTDOWN_GRACE_MS) => {
    stopping ??= (async () => {
      draining = true;
      watch.stop();
      server.close();
      server.closeIdleConnections();
      // Once the requests in flight are answered, no connection holds anything worth waiting for.
      answered = () => server.closeAllConnections();
      if (answering === 0) answered();
      const grace = setTimeout(() => server.closeAllConnections(), graceMs);
      await finished;
      clearTimeout(grace);
      return report;
    })();
    return stopping;
  };
  /** A request once the shutdown began: `503`, try again later, and the connection closes. */
  const refuseStopping = (res: ServerResponse) => {
    report.refused++;
    const body = JSON.stringify({ error: "the engine is stopping: send the request again later" });
    res.writeHead(503, {
      "content-type": "application/json",
      "content-length": String(new TextEncoder().encode(body).length),
      "retry-after": String(STOPPING_RETRY_AFTER_SECONDS),
      "cache-control": "no-store",
      "x-content-type-options": "nosniff",
      connection: "close",
    });
    res.end(body);
  };
  const shutdown = async () => void await drain();
  options.signal?.addEventListener("abort", () => void shutdown(), { once: true });
  log.info("http.listening", { hostname, port, tls: tls !== undefined });
  return {
    port,
    hostname,
    tls: tls !== undefined,
    get answering() {
      return answering;
    },
    drain,
    shutdown,
    finished,
  };
}

/**
 * Answers what Node's parser refused before the app saw a request: headers too large (431), too
 * slow (408), or not HTTP (400); then closes. A connection already answering is just closed.
 */
function answerClientError(
  error: Error & { code?: string },
  socket: Duplex,
  headerSeconds: number,
  log: Logger,
  throttle: LogThrottle,
): void {
  const code = error.code ?? "unknown";
  if (refused.has(socket)) return; // the parser says it again for every later read
  const answering = (socket as Duplex & { _httpMessage?: ServerResponse })._httpMessage;
  if (answering && code.startsWith("HPE_") && socket.writable) {
    // The body of a request being served broke its framing (e.g. malformed chunked encoding):
    // its handler, reading that body, answers (400) and the connection closes after the answer.
    const what = refuseBodyFraming(answering);
    if (what !== undefined) {
      refused.add(socket);
      const count = throttle.note(addressOf(socket));
      if (count > 0) {
        log.warn("http.client-error", {
          remote: remoteOf(socket),
          code,
          body: what,
          refused: count,
        });
      }
      // A handler that never answers does not keep the connection.
      const timer = setTimeout(() => socket.destroy(), BACKSTOP_MS);
      Deno.unrefTimer(timer);
      socket.once("close", () => clearTimeout(timer));
      return;
    }
  }
  if (code === "ECONNRESET" || code === "EPIPE" || !socket.writable || answering) {
    socket.destroy();
    return;
  }
  const [status, reason, text] = code === "HPE_HEADER_OVERFLOW"
    ? [
      431,
      "Request Header Fields Too Large",
      `the request line and headers are larger than ${MAX_HEADER_BYTES} bytes`,
    ]
    : code === "ERR_HTTP_REQUEST_TIMEOUT"
    ? [
      408,
      "Request Timeout",
      `the request headers were not received within ${headerSeconds} s (limits.httpHeaderTimeoutSeconds)`,
    ]
    : [400, "Bad Request", "the request is not valid HTTP/1.1"];
  const count = throttle.note(addressOf(socket));
  if (count > 0) {
    log.warn("http.client-error", { remote: remoteOf(socket), status, code, refused: count });
  }
  endWithJson(socket, status, reason, text);
}

/** Answers `{error: text}` with `status` on the raw socket and closes it. */
function endWithJson(socket: Duplex, status: number, reason: string, text: string): void {
  const body = JSON.stringify({ error: text });
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${new TextEncoder().encode(body).length}\r\nCache-Control: no-store\r\n` +
      // As every answer of the app (respond.ts): taken for what its Content-Type says.
      `X-Content-Type-Options: nosniff\r\nConnection: close\r\n\r\n${body}`,
  );
  // The peer may never read or close: it gets a moment to read the answer, no more.
  const timer = setTimeout(() => socket.destroy(), 2_000);
  Deno.unrefTimer(timer);
  socket.once("close", () => clearTimeout(timer));
}

/** Connections whose request body Node's parser refused, answered by their handler. */
const refused = new WeakSet<Duplex>();

/**
 * The socket's peer, or that of the TCP socket under it: a TLS socket whose handshake failed no
 * longer knows its own (Deno 2.9.6 says `undefined`).
 */
function peerOfSocket(socket: Duplex): { remoteAddress?: string; remotePort?: number } {
  type Peer = { remoteAddress?: string; remotePort?: number; _parent?: Peer };
  const s = socket as Duplex & Peer;
  return s.remoteAddress !== undefined ? s : (s._parent ?? s);
}

/** The client's address (no port): what the per-connection lines are throttled by. */
function addressOf(socket: Duplex): string {
  return peerAddress(peerOfSocket(socket));
}

function remoteOf(socket: Duplex): string {
  const s = peerOfSocket(socket);
  return `${s.remoteAddress ?? "unknown"}:${s.remotePort ?? 0}`;
}
