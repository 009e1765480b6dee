/**
 * Bearer-token authentication for the admin endpoint: a Hono middleware that compares the
 * presented token in constant time, answers every refusal with the same bare 401, and logs the
 * refusal with the remote address and path (never the presented token).
 * @module
 */

import type { Context, MiddlewareHandler } from "hono";
import { sendJson } from "./respond.ts";
import type { Logger, Secret } from "../../actors/ports.ts";
import { peerIp } from "./peer.ts";
import { AUTH_LOG_BURST, PeerLog } from "./peer_log.ts";

/** Why a request was refused: logged for the operator, never told to the client. */
export type DenialReason = "missing" | "scheme" | "malformed" | "mismatch";

/** The outcome of reading an `Authorization` header. */
export type BearerCheck = { ok: true } | { ok: false; why: DenialReason };

/** Longest path written to the log for a refused request. */
const MAX_LOGGED_PATH = 256;

/**
 * Checks an `Authorization` header against `token`: the scheme must be `Bearer` (any case), then
 * one credential without whitespace, equal to the token (compared in constant time).
 */
export function checkBearer(header: string | undefined | null, token: Secret): BearerCheck {
  const value = header?.trim() ?? "";
  if (value === "") return { ok: false, why: "missing" };
  const space = value.search(/\s/);
  const scheme = space < 0 ? value : value.slice(0, space);
  if (scheme.toLowerCase() !== "bearer") return { ok: false, why: "scheme" };
  const credential = space < 0 ? "" : value.slice(space + 1).trim();
  if (credential === "" || /\s/.test(credential)) return { ok: false, why: "malformed" };
  return token.equals(credential) ? { ok: true } : { ok: false, why: "mismatch" };
}

/**
 * The peer's address as `host:port`, read from the `Deno.ServeHandlerInfo` that `Deno.serve`
 * passes to `app.fetch` as Hono's `env`; `"unknown"` when the app is called some other way.
 */
export function remoteAddress(c: Context): string {
  const env = c.env as { remoteAddr?: { hostname?: unknown; port?: unknown } } | undefined;
  const addr = env?.remoteAddr;
  if (addr && typeof addr.hostname === "string") {
    return typeof addr.port === "number" ? `${addr.hostname}:${addr.port}` : addr.hostname;
  }
  return "unknown";
}

/**
 * A middleware that lets a request through only with `Authorization: Bearer <token>`. Anything
 * else gets `401 {"error":"unauthorized"}` with `WWW-Authenticate: Bearer`, whatever was wrong,
 * and a warning `admin.denied` with the remote address, method, path and reason.
 */
export function requireBearer(options: { token: Secret; log: Logger }): MiddlewareHandler {
  const { token, log } = options;
  // A client may retry a wrong token in a loop: throttled per address (peer_log.ts).
  const denials = new PeerLog(log, { burst: AUTH_LOG_BURST });
  return async (c, next) => {
    const check = checkBearer(c.req.header("authorization"), token);
    if (check.ok) return await next();
    const path = c.req.path;
    denials.warn("admin.denied", peerIp(c), {
      remote: remoteAddress(c),
      method: c.req.method,
      path: path.length > MAX_LOGGED_PATH ? `${path.slice(0, MAX_LOGGED_PATH)}…` : path,
      why: check.why,
    });
    return sendJson(c, { error: "unauthorized" }, 401, { "WWW-Authenticate": "Bearer" });
  };
}
