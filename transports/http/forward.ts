/**
 * `POST /forward` (agent mode): another engine forwards one message it stored, with a bearer
 * access token of a source (`/v2/auth/token`). Checked in order: the per-IP rate limit, the token
 * (before the body is read), the `forward-message-id` header, the size limit (`limits.maxHl7Bytes`;
 * a `Content-Length` over it is refused before reading). The body is the message's original bytes
 * under its own `Content-Type`; metadata comes in the `forward-*` headers (codecs/forward). The
 * engine's {@link ForwardInboxPort} stores it and says what to answer: `200
 * {"messageId", "duplicate", "appAck"?}` only after the commit. Refusals are
 * `{"error": "..."}`: 400, 401 (with `WWW-Authenticate: Bearer`), 403 (the source is mapped to no
 * integration, or another environment), 405, 408, 413, 429 (with `Retry-After`), 500, 503.
 * @module
 */

import { type Context, Hono } from "hono";
import {
  FORWARD_HEADERS as H,
  FORWARD_PATH,
  headerText,
  parseAppAckWait,
} from "../../codecs/forward/mod.ts";
import type { ForwardInboxPort, Logger } from "../../actors/ports.ts";
import type { AccessTokenVerifier } from "./access_token.ts";
import { BodyTimeoutError, readLimited } from "./body.ts";
import { peerIp } from "./peer.ts";
import { AUTH_LOG_BURST, PeerLog } from "./peer_log.ts";
import type { RateLimiter } from "./rate_limit.ts";
import { sendJson } from "./respond.ts";

/** What {@link createForwardApp} is built from. */
export interface ForwardAppOptions {
  tokens: AccessTokenVerifier;
  inbox: ForwardInboxPort;
  rateLimiter: RateLimiter;
  log: Logger;
}

type Status = 400 | 401 | 403 | 405 | 408 | 413 | 429 | 500 | 503;

/** The `/forward` app (see the module doc). */
export function createForwardApp(options: ForwardAppOptions): Hono {
  const { tokens, inbox, rateLimiter, log } = options;
  const app = new Hono();
  // Refused before the client authenticates: throttled per address (peer_log.ts).
  const rateLog = new PeerLog(log);
  const authLog = new PeerLog(log, { burst: AUTH_LOG_BURST });
  const refuse = (
    c: Context,
    status: Status,
    error: string,
    headers: Record<string, string> = {},
  ) => sendJson(c, { error }, status, { "Cache-Control": "no-store", ...headers });

  app.post(FORWARD_PATH, async (c) => {
    const ip = peerIp(c);
    const discard = () => c.req.raw.body?.cancel().catch(() => {});
    const verdict = rateLimiter.take(ip);
    if (!verdict.allowed) {
      await discard();
      rateLog.warn("forward.rate-limited", ip, { ip, limit: verdict.limit });
      return refuse(c, 429, `more than ${verdict.limit} requests from ${ip}; retry later`, {
        "Retry-After": String(verdict.retryAfterSeconds),
      });
    }
    const m = /^Bearer\s+([A-Za-z0-9._~+/-]+=*)$/i.exec(
      c.req.header("authorization")?.trim() ?? "",
    );
    const checked = m
      ? await tokens.verify(m[1]!)
      : { ok: false as const, error: "no access token: send Authorization: Bearer <token>" };
    if (!checked.ok) {
      await discard();
      authLog.warn("forward.unauthorized", ip, { ip, why: checked.error });
      return refuse(c, 401, checked.error, { "WWW-Authenticate": "Bearer" });
    }
    const messageId = c.req.header(H.messageId)?.trim();
    if (!messageId || messageId.length > 256) {
      await discard();
      return refuse(c, 400, `the ${H.messageId} header (the sender's message id) is required`);
    }
    let body;
    try {
      body = await readLimited(c.req.raw, inbox.maxBytes);
    } catch (error) {
      if (error instanceof BodyTimeoutError) {
        log.warn("forward.body-timeout", { ip, source: checked.sourceId });
        return refuse(c, 408, error.message, { Connection: "close" });
      }
      log.warn("forward.body-failed", { ip, source: checked.sourceId, error });
      return refuse(c, 400, "the body could not be read to its end");
    }
    if (!body.ok) {
      log.warn("forward.too-large", { ip, source: checked.sourceId, limit: body.limit });
      return refuse(c, 413, `the message is larger than the limit of ${body.limit} bytes`, {
        Connection: "close",
      });
    }
    const integration = headerText(c.req.header(H.integration));
    const receivedAt = headerText(c.req.header(H.receivedAt));
    const controlId = headerText(c.req.header(H.controlId));
    const fileName = headerText(c.req.header(H.fileName));
    let result;
    try {
      result = await inbox.accept({
        sourceId: checked.sourceId,
        environment: checked.environment,
        bytes: body.bytes,
        contentType: c.req.header("content-type") || "application/octet-stream",
        messageId,
        ...(integration ? { integration } : {}),
        ...(receivedAt ? { receivedAt } : {}),
        ...(controlId ? { controlId } : {}),
        ...(fileName ? { fileName } : {}),
        peerIp: ip,
        appAckWaitMs: parseAppAckWait(c.req.header(H.appAck)) * 1000,
      });
    } catch (error) {
      log.error("forward.failed", { ip, source: checked.sourceId, error });
      return refuse(c, 500, "the message could not be stored: try again");
    }
    if (!result.ok) {
      return refuse(
        c,
        result.status,
        result.error,
        result.status === 503 ? { "Retry-After": "5" } : {},
      );
    }
    const { ok: _, ...answer } = result;
    return sendJson(c, answer, 200, { "Cache-Control": "no-store" });
  });

  app.all(FORWARD_PATH, (c) => refuse(c, 405, `use POST, not ${c.req.method}`, { Allow: "POST" }));
  return app;
}
