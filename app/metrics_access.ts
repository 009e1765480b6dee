/**
 * Who may read `GET /metrics`. By default anyone, as `/healthz` (the documented contract); with
 * `http.metricsToken` only a client presenting `Authorization: Bearer <that token>` (Prometheus's
 * `bearer_token`), compared in constant time as the admin token. The metrics name internal
 * destination hosts and ports, sender addresses, integrations, traffic volumes and the exact
 * build, so an engine serving production (HTTP not marked `development`) without the token says so
 * once at start: `WARN http.metrics-open`.
 * @module
 */

import type { MiddlewareHandler } from "hono";
import type { Config } from "../actors/config/mod.ts";
import type { Logger } from "../actors/runtime/log.ts";
import { checkBearer, remoteAddress } from "../transports/http/auth.ts";
import { peerIp } from "../transports/http/peer.ts";
import { AUTH_LOG_BURST, PeerLog } from "../transports/http/peer_log.ts";
import { sendJson } from "../transports/http/respond.ts";

/** What `/metrics` shows anyone who can reach it, as the startup warning says it. */
export const METRICS_EXPOSE =
  "internal destination hosts and ports, sender IP addresses, integration and destination " +
  "names, traffic volumes, the exact version and git commit";

/**
 * The middleware in front of `/metrics`: without `http.metricsToken` it lets every request
 * through (and warns once, now, when HTTP is not marked `development`); with it, a request
 * without `Authorization: Bearer <token>` gets the admin API's bare 401
 * (`{"error":"unauthorized"}`, `WWW-Authenticate: Bearer`) and a throttled `metrics.denied`
 * warning with the address and the reason (never the presented token).
 */
export function metricsAccess(config: Config, log: Logger): MiddlewareHandler {
  const token = config.http.metricsToken;
  if (!token) {
    if (!config.http.development) {
      log.warn("http.metrics-open", {
        path: "/metrics",
        exposes: METRICS_EXPOSE,
        hint: 'set http.metricsToken (e.g. {"env": "ENGINE_METRICS_TOKEN"}) and give it to ' +
          "Prometheus as its bearer token, or block /metrics at the proxy in front of the engine",
      });
    }
    return async (_c, next) => await next();
  }
  // A scraper with a stale token retries every interval: throttled per address (peer_log.ts).
  const denials = new PeerLog(log, { burst: AUTH_LOG_BURST });
  return async (c, next) => {
    const check = checkBearer(c.req.header("authorization"), token);
    if (check.ok) return await next();
    denials.warn("metrics.denied", peerIp(c), { remote: remoteAddress(c), why: check.why });
    return sendJson(c, { error: "unauthorized" }, 401, {
      "WWW-Authenticate": "Bearer",
      "Cache-Control": "no-store",
    });
  };
}
