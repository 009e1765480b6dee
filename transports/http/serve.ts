/**
 * Serving the public HTTP app (token, endpoint, admin...) with `Deno.serve`: HTTPS with the
 * config's certificate and key, plain HTTP only where the config marks the listener as for
 * development.
 *
 * TLS policy: Deno terminates TLS with rustls, which offers TLS 1.3 and TLS 1.2 only, and on
 * TLS 1.2 only ECDHE key exchange with AEAD ciphers (AES-GCM, ChaCha20-Poly1305): no TLS 1.0/1.1,
 * no RSA key exchange, no CBC, no SHA-1 MACs. With an RSA certificate the suites accepted are
 * TLS_AES_256_GCM_SHA384, TLS_AES_128_GCM_SHA256, TLS_CHACHA20_POLY1305_SHA256 (1.3) and
 * ECDHE-RSA-AES256-GCM-SHA384, ECDHE-RSA-AES128-GCM-SHA256, ECDHE-RSA-CHACHA20-POLY1305 (1.2);
 * with an ECDSA certificate the ECDHE-ECDSA counterparts. tests/transports/http/tls_policy_test.ts
 * checks this list against every suite openssl knows.
 *
 * Beware: over TLS, Deno may write the headers and a known-length body (from about 300 bytes) in
 * two writes on a socket without TCP_NODELAY, so on a keep-alive connection the body waits ~40 ms
 * for the client's delayed ACK (Nagle's algorithm). Apps answer through `respond.ts`, which
 * streams bodies instead.
 * @module
 */

import type { Config } from "../../actors/config/mod.ts";
import type { Logger } from "../../actors/runtime/log.ts";

/** What `Deno.serve` calls: a Hono app's `fetch` fits. */
export type FetchHandler = (
  request: Request,
  info: Deno.ServeHandlerInfo<Deno.NetAddr>,
) => Response | Promise<Response>;

/** What {@link servePublic} needs. */
export interface ServePublicOptions {
  /** The app to serve (pass `app.fetch`). */
  fetch: FetchHandler;
  /** The config's `http` section: port, hostname, tls, development. */
  http: Pick<Config["http"], "port" | "hostname" | "tls" | "development">;
  log: Logger;
  /** Stops the server when aborted (same as {@link PublicServer.shutdown}). */
  signal?: AbortSignal;
}

/** A running public server. */
export interface PublicServer {
  /** The port bound (useful when the config says 0). */
  readonly port: number;
  readonly hostname: string;
  /** True when serving HTTPS. */
  readonly tls: boolean;
  /** Stops accepting, lets requests in flight finish, then resolves. */
  shutdown(): Promise<void>;
  /** Resolves when the server has stopped. */
  readonly finished: Promise<void>;
}

/**
 * Starts the server. Throws, before listening, when the config asks for something it cannot do:
 * plain HTTP outside development, client certificates (Deno's server cannot verify them), or an
 * empty certificate or key; and when the certificate and key cannot be loaded.
 */
export function servePublic(options: ServePublicOptions): PublicServer {
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
        "Deno's HTTPS server cannot verify them; remove them or terminate mutual TLS in a proxy",
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
  let server: Deno.HttpServer<Deno.NetAddr>;
  try {
    server = Deno.serve({
      port: http.port,
      hostname: http.hostname,
      ...(tls ? { cert: cert!, key: key! } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
      onListen: () => {},
      onError: (error) => {
        log.error("http.failed", { error });
        return new Response(JSON.stringify({ error: "internal error" }), {
          status: 500,
          headers: { "content-type": "application/json" },
        });
      },
    }, options.fetch);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(
      tls &&
        !(error instanceof Deno.errors.AddrInUse || error instanceof Deno.errors.PermissionDenied)
        ? `http.tls: cannot serve with the certificate (${tls.cert.source}) and key (${tls.key.source}): ${reason}`
        : `http: cannot listen on ${http.hostname}:${http.port}: ${reason}`,
    );
  }
  const addr = server.addr;
  log.info("http.listening", { hostname: addr.hostname, port: addr.port, tls: tls !== undefined });
  return {
    port: addr.port,
    hostname: addr.hostname,
    tls: tls !== undefined,
    shutdown: () => server.shutdown(),
    finished: server.finished,
  };
}
