/**
 * The peer's IP address of a request served by `Deno.serve`, as the rate limits and the inbox
 * see it. The address is the TCP peer's: a reverse proxy in front of the engine makes every
 * request come from the proxy (forwarded headers are not trusted, since any client can set them).
 * @module
 */

import type { Context } from "hono";

/**
 * The IP address from the `Deno.ServeHandlerInfo` that `Deno.serve` passes to `app.fetch` as
 * Hono's `env`; `"unknown"` when the app is called some other way.
 */
export function peerIp(c: Context): string {
  const env = c.env as { remoteAddr?: { hostname?: unknown } } | undefined;
  const hostname = env?.remoteAddr?.hostname;
  return typeof hostname === "string" ? hostname : "unknown";
}
