/**
 * Bearer-token authentication for the admin endpoint: a Hono middleware that compares the
 * presented token in constant time, answers every refusal with the same bare 401, and logs the
 * refusal with the remote address and path (never the presented token).
 *
 * Wrong tokens are also counted per client address ({@link BearerFailures}): past
 * {@link BEARER_FAILURE_LIMIT} in {@link BEARER_FAILURE_WINDOW_MS}, every request from that address
 * is answered `429` with `Retry-After`, before its token is looked at, until its failures age out.
 * Only failures count: a client presenting the right token is never counted, and one address's
 * failures never hold back another address.
 * @module
 */

import type { Context, MiddlewareHandler } from "hono";
import { sendJson } from "./respond.ts";
import type { Logger, Secret } from "../../actors/ports.ts";
import { peerIp, peerLabel, peerVia } from "./peer.ts";
import { AUTH_LOG_BURST, PeerLog } from "./peer_log.ts";
import { RateLimiter } from "./rate_limit.ts";

/** Wrong bearer tokens allowed per client address within {@link BEARER_FAILURE_WINDOW_MS}. */
export const BEARER_FAILURE_LIMIT = 20;
/** The rolling window the wrong tokens are counted in: one minute. */
export const BEARER_FAILURE_WINDOW_MS = 60_000;
/** Client addresses whose failures are tracked at most (past it, the longest-known are forgotten). */
export const BEARER_FAILURE_MAX_ADDRESSES = 10_000;

/**
 * Wrong bearer tokens counted per client address, shared by every admin route of one engine (see
 * {@link bearerFailures}). Past the limit an address is refused `429` before its token is checked,
 * so a correct guess cannot be told from a wrong one until its failures age out.
 */
export class BearerFailures {
  readonly #limiter: RateLimiter;
  // One line per address, then one every 5 s counting those held back (peer_log.ts).
  readonly #throttled: PeerLog;

  /** Counts per address with `options` (the defaults above), logging to `log`. */
  constructor(
    log: Logger,
    options: { limit?: number; windowMs?: number; maxAddresses?: number; now?: () => number } = {},
  ) {
    this.#limiter = new RateLimiter({
      limit: options.limit ?? BEARER_FAILURE_LIMIT,
      windowMs: options.windowMs ?? BEARER_FAILURE_WINDOW_MS,
      maxClients: options.maxAddresses ?? BEARER_FAILURE_MAX_ADDRESSES,
      ...(options.now ? { now: options.now } : {}),
    });
    this.#throttled = new PeerLog(log, options.now ? { now: options.now } : {});
  }

  /** Addresses tracked now (bounded by `maxAddresses`). */
  get size(): number {
    return this.#limiter.size;
  }

  /**
   * `429 {"error"}` with `Retry-After` when the request's address is past its failures (with a
   * throttled warning `admin.throttled`), else undefined: the token may be checked.
   */
  refuse(c: Context): Response | undefined {
    const ip = peerIp(c);
    const decision = this.#limiter.peek(ip);
    if (decision.allowed) return undefined;
    this.#throttled.warn("admin.throttled", ip, {
      remote: ip,
      method: c.req.method,
      path: loggedPath(c.req.path),
      failures: decision.limit,
      windowSeconds: Math.round(this.#limiter.windowMs / 1000),
    });
    return sendJson(
      c,
      { error: "too many requests with a wrong token from your address; retry later" },
      429,
      { "Retry-After": String(decision.retryAfterSeconds) },
    );
  }

  /** Counts one wrong token from the request's address. */
  failed(c: Context): void {
    this.#limiter.take(peerIp(c));
  }
}

const sharedFailures = new WeakMap<Logger, BearerFailures>();

/**
 * The {@link BearerFailures} of the engine whose log is `log`: every admin mount of one engine
 * (`/admin`, `/admin/nodes`, `/admin/sandbox`, shaping) logs to the same logger, so they share one
 * budget per address instead of granting one each.
 */
export function bearerFailures(log: Logger): BearerFailures {
  let failures = sharedFailures.get(log);
  if (!failures) {
    failures = new BearerFailures(log);
    sharedFailures.set(log, failures);
  }
  return failures;
}

const ADMIN_LOG = "adminLog";

/** The admin routes' logger, set by the authentication middleware (for the routes' own lines). */
export function adminLogOf(c: Context): Logger | undefined {
  return c.get(ADMIN_LOG as never) as Logger | undefined;
}

/** Keeps `log` on the request for {@link adminLogOf}. */
export function setAdminLog(c: Context, log: Logger): void {
  c.set(ADMIN_LOG as never, log as never);
}

function loggedPath(path: string): string {
  return path.length > MAX_LOGGED_PATH ? `${path.slice(0, MAX_LOGGED_PATH)}…` : path;
}

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
 * passes to `app.fetch` as Hono's `env`; `"unknown"` when the app is called some other way. When
 * the client address came from a trusted proxy's `X-Forwarded-For`: `<client> via <proxy
 * host:port>` (peer.ts).
 */
export function remoteAddress(c: Context): string {
  if (peerVia(c) !== undefined) return peerLabel(c);
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
 * and a warning `admin.denied` with the remote address, method, path and reason; and counts as a
 * failure of its address (`failures`, by default the engine's shared {@link bearerFailures}).
 */
export function requireBearer(
  options: { token: Secret; log: Logger; failures?: BearerFailures },
): MiddlewareHandler {
  const { token, log } = options;
  const failures = options.failures ?? bearerFailures(log);
  // A client may retry a wrong token in a loop: throttled per address (peer_log.ts).
  const denials = new PeerLog(log, { burst: AUTH_LOG_BURST });
  return async (c, next) => {
    const throttled = failures.refuse(c);
    if (throttled) return throttled;
    const check = checkBearer(c.req.header("authorization"), token);
    if (check.ok) {
      setAdminLog(c, log);
      return await next();
    }
    // Only a token presented and wrong is a guess; a missing header guesses nothing.
    if (check.why === "mismatch") failures.failed(c);
    denials.warn("admin.denied", peerIp(c), {
      remote: remoteAddress(c),
      method: c.req.method,
      path: loggedPath(c.req.path),
      why: check.why,
    });
    return sendJson(c, { error: "unauthorized" }, 401, { "WWW-Authenticate": "Bearer" });
  };
}
