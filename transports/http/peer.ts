/**
 * The client's IP address of a request served by `servePublic` (or `Deno.serve`), as the rate
 * limits, the sign-in throttles, the audit and the logs see it. It is the TCP peer's, unless the
 * peer is one of the config's `http.trustedProxies`: then it is the client that proxy names in
 * `X-Forwarded-For` (forwarded_for.ts; node_bridge.ts reads it), and the proxy is kept as `via`.
 * Without `http.trustedProxies` a reverse proxy in front of the engine makes every request come
 * from the proxy (forwarded headers are not trusted, since any client can set them).
 * @module
 */

import type { Context } from "hono";

/** The part of Hono's `env` read here (`ServeInfo` of serve.ts). */
type PeerEnv = {
  remoteAddr?: { hostname?: unknown; port?: unknown };
  via?: { hostname?: unknown; port?: unknown };
};

/**
 * The client's IP address from the `Deno.ServeHandlerInfo` that `Deno.serve` (or `servePublic`)
 * passes to `app.fetch` as Hono's `env`; `"unknown"` when the app is called some other way.
 */
export function peerIp(c: Context): string {
  const hostname = (c.env as PeerEnv | undefined)?.remoteAddr?.hostname;
  return typeof hostname === "string" ? hostname : "unknown";
}

/**
 * The trusted proxy the request came through as `host:port` (the TCP peer), when its client
 * address was read from `X-Forwarded-For`; else undefined (the peer is the client).
 */
export function peerVia(c: Context): string | undefined {
  const via = (c.env as PeerEnv | undefined)?.via;
  if (!via || typeof via.hostname !== "string") return undefined;
  return typeof via.port === "number" ? `${via.hostname}:${via.port}` : via.hostname;
}

/**
 * The client's address for a log line: {@link peerIp}, followed by ` via <proxy host:port>` when it
 * came from a trusted proxy's `X-Forwarded-For`, so that a line shows both when they differ.
 */
export function peerLabel(c: Context): string {
  const via = peerVia(c);
  return via === undefined ? peerIp(c) : `${peerIp(c)} via ${via}`;
}
