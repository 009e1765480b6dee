/**
 * JSON (and other byte) answers of known length, each carrying `X-Content-Type-Options: nosniff`:
 * a browser takes it for what it says it is. The public server (serve.ts, `node:https` with
 * TCP_NODELAY) writes such an answer's headers and body in one write (node_bridge.ts). (Under
 * `Deno.serve`, which the engine no longer uses, a known-length body over ~300 bytes could wait
 * ~40 ms for the client's delayed ACK, and answers were streamed instead; `deno task bench
 * https_respond` times both kinds of answer through the public server.)
 * @module
 */

import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";

const encoder = new TextEncoder();

/** Answers `value` as JSON with `status`, keeping the headers already set on `c`. */
export function sendJson(
  c: Context,
  value: unknown,
  status: ContentfulStatusCode = 200,
  headers: Record<string, string> = {},
): Response {
  return sendBody(c, encoder.encode(JSON.stringify(value)), status, {
    "Content-Type": "application/json",
    ...headers,
  });
}

/**
 * Answers `bytes` with `status` and `headers` (which should name the Content-Type), and
 * `X-Content-Type-Options: nosniff`.
 */
export function sendBody(
  c: Context,
  bytes: Uint8Array,
  status: ContentfulStatusCode,
  headers: Record<string, string>,
): Response {
  return c.newResponse(bytes as Uint8Array<ArrayBuffer>, status, {
    "X-Content-Type-Options": "nosniff",
    "Content-Length": String(bytes.length),
    ...headers,
  });
}
