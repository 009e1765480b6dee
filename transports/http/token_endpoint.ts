/**
 * `POST /v2/auth/token`: OAuth 2.0 client credentials (RFC 6749 §4.4). A client authenticates
 * with a signed JWT client assertion (RFC 7523, preferred) or its client secret (HTTP Basic, or
 * `client_id` and `client_secret` in the form), and gets an access token for `POST /endpoint`.
 *
 * Answers: `200 {access_token, token_type: "Bearer", expires_in}`; refusals are
 * `{error, error_description}` with `400 invalid_request` (malformed request),
 * `400 unsupported_grant_type`, `401 invalid_client` (authentication failed: the description says
 * exactly why), `408 invalid_request` (the form did not arrive within
 * `limits.httpBodyTimeoutSeconds`; the connection is closed) or `413 invalid_request` (body over
 * 64 KiB). Every answer has
 * `Cache-Control: no-store`.
 * @module
 */

import { type Context, Hono } from "hono";
import type { Logger } from "../../actors/ports.ts";
import type { AccessTokens } from "./access_token.ts";
import { remoteAddress } from "./auth.ts";
import { BodyTimeoutError, readLimited } from "./body.ts";
import { peerIp } from "./peer.ts";
import { AUTH_LOG_BURST, PeerLog } from "./peer_log.ts";
import { type ClientAssertionVerifier, JWT_BEARER, type SourceConfig } from "./client_assertion.ts";
import type { RateLimiter } from "./rate_limit.ts";
import { sendJson } from "./respond.ts";

/** The path served. */
export const TOKEN_PATH = "/v2/auth/token";
/** The token URL under the engine's public base URL (config `http.publicUrl`). */
export function tokenUrlFor(publicUrl: string): string {
  return `${publicUrl.replace(/\/+$/, "")}${TOKEN_PATH}`;
}

/** Largest token request body. */
const MAX_FORM_BYTES = 64 * 1024;

/** What {@link createTokenApp} is built from. */
export interface TokenAppOptions {
  /** The API sources of the config. */
  sources: readonly SourceConfig[];
  /** Issues the access tokens. */
  tokens: AccessTokens;
  /** Checks JWT client assertions. */
  assertions: ClientAssertionVerifier;
  /**
   * The URLs clients know this endpoint by (`tokenUrlFor(http.publicUrl)`, e.g.
   * `https://engine.example.org/v2/auth/token`): the only audiences an assertion may name. Never
   * taken from the request (its `Host` header is the client's to choose). Without any, every
   * assertion is refused (the config check requires `http.publicUrl` for assertion sources).
   */
  tokenUrls?: readonly string[];
  /** Limits token requests per peer IP (none when absent). */
  rateLimiter?: RateLimiter;
  log: Logger;
}

type OAuthError = "invalid_request" | "invalid_client" | "unsupported_grant_type";

/** A refusal: the OAuth error, its HTTP status and the description. */
interface Refusal {
  status: 400 | 401 | 408 | 413;
  error: OAuthError;
  description: string;
  /** Close the connection after the answer (the client stalled). */
  close?: boolean;
}

const refusal = (
  status: Refusal["status"],
  error: OAuthError,
  description: string,
): Refusal => ({
  status,
  error,
  description,
});

/** The token endpoint (see the module doc). */
export function createTokenApp(options: TokenAppOptions): Hono {
  const { tokens, assertions, log } = options;
  // A refused client (wrong secret, bad assertion) may retry in a loop, and the rate limit is
  // optional: throttled per address (peer_log.ts).
  const refusedLog = new PeerLog(log, { burst: AUTH_LOG_BURST });
  const bySecretClient = new Map<string, SourceConfig>();
  for (const s of options.sources) bySecretClient.set(s.clientId, s);
  const app = new Hono();

  app.post(TOKEN_PATH, async (c) => {
    c.header("Cache-Control", "no-store");
    c.header("Pragma", "no-cache");
    const peer = remoteAddress(c);
    if (options.rateLimiter) {
      const verdict = options.rateLimiter.take(peerIp(c));
      if (!verdict.allowed) {
        c.header("Retry-After", String(verdict.retryAfterSeconds));
        return sendJson(c, {
          error: "slow_down",
          error_description: `more than ${verdict.limit} token requests from your address; ` +
            `retry in ${verdict.retryAfterSeconds} s`,
        }, 429);
      }
    }
    const outcome = await handle(c);
    if ("status" in outcome) {
      refusedLog.warn("token.refused", peerIp(c), {
        remote: peer,
        ...(outcome.clientId ? { clientId: outcome.clientId } : {}),
        error: outcome.error,
        why: outcome.description,
      });
      if (outcome.status === 401 && outcome.basic) {
        c.header("WWW-Authenticate", 'Basic realm="token", charset="UTF-8"');
      }
      return sendJson(
        c,
        { error: outcome.error, error_description: outcome.description },
        outcome.status,
        outcome.close ? { Connection: "close" } : {},
      );
    }
    const { source, method } = outcome;
    const issued = await tokens.issue({
      sourceId: source.id,
      environment: source.environment,
      clientId: source.clientId,
    });
    log.info("token.issued", { remote: peer, source: source.id, method });
    return sendJson(c, {
      access_token: issued.token,
      token_type: "Bearer",
      expires_in: issued.expiresIn,
    });
  });

  app.all(TOKEN_PATH, (c) =>
    sendJson(
      c,
      { error: "invalid_request", error_description: `use POST, not ${c.req.method}` },
      405,
      { Allow: "POST", "Cache-Control": "no-store" },
    ));

  type Outcome =
    | { source: SourceConfig; method: "assertion" | "basic" | "form" }
    | (Refusal & { clientId?: string; basic?: boolean });

  /** Reads the form and authenticates the client. */
  async function handle(c: Context): Promise<Outcome> {
    const form = await readForm(c.req.raw);
    if ("status" in form) return form;
    const get = (name: string) => form.get(name);
    const grant = get("grant_type");
    if (grant === undefined) {
      return refusal(400, "invalid_request", "grant_type is missing: send client_credentials");
    }
    if (grant !== "client_credentials") {
      return refusal(
        400,
        "unsupported_grant_type",
        `grant_type ${JSON.stringify(grant)} is not supported: use client_credentials`,
      );
    }
    const authorization = c.req.header("authorization");
    const methods = [
      ...(authorization !== undefined ? ["Authorization header"] : []),
      ...(get("client_assertion") !== undefined || get("client_assertion_type") !== undefined
        ? ["client_assertion"]
        : []),
      ...(get("client_secret") !== undefined ? ["client_secret"] : []),
    ];
    if (methods.length > 1) {
      return refusal(
        400,
        "invalid_request",
        `use one client authentication method, not ${methods.join(" and ")}`,
      );
    }
    const method = methods[0];
    if (method === undefined) {
      return refusal(
        401,
        "invalid_client",
        "no client authentication: send client_assertion (a signed JWT) or your client secret " +
          "(HTTP Basic, or client_id and client_secret)",
      );
    }
    if (method === "client_assertion") {
      const type = get("client_assertion_type");
      if (type !== JWT_BEARER) {
        return refusal(
          400,
          "invalid_request",
          `client_assertion_type must be ${JWT_BEARER}; got ${JSON.stringify(type ?? null)}`,
        );
      }
      const assertion = get("client_assertion");
      if (!assertion) return refusal(400, "invalid_request", "client_assertion is missing");
      const clientId = get("client_id");
      const audiences = options.tokenUrls ?? [];
      if (audiences.length === 0) {
        return refusal(
          401,
          "invalid_client",
          "this engine has no public token URL configured (http.publicUrl), so it cannot " +
            "check an assertion's audience: use your client secret, or ask the operator",
        );
      }
      const result = await assertions.verify(assertion, {
        audiences,
        ...(clientId !== undefined ? { clientId } : {}),
      });
      if (!result.ok) {
        return {
          ...refusal(
            result.error === "invalid_client" ? 401 : 400,
            result.error,
            result.description,
          ),
          ...(clientId !== undefined ? { clientId } : {}),
        };
      }
      return { source: result.source, method: "assertion" };
    }
    if (method === "Authorization header") {
      const basic = parseBasic(authorization!);
      if (typeof basic === "string") {
        return { ...refusal(401, "invalid_client", basic), basic: true };
      }
      if (get("client_id") !== undefined && get("client_id") !== basic.clientId) {
        return refusal(400, "invalid_request", "client_id in the form differs from HTTP Basic");
      }
      return { ...checkSecret(basic.clientId, basic.secret, "basic"), basic: true };
    }
    const clientId = get("client_id");
    if (clientId === undefined) {
      return refusal(400, "invalid_request", "client_id is missing (needed with client_secret)");
    }
    return checkSecret(clientId, get("client_secret")!, "form");
  }

  function checkSecret(clientId: string, secret: string, method: "basic" | "form"): Outcome {
    const source = bySecretClient.get(clientId);
    const named = JSON.stringify(clientId);
    if (!source) {
      return { ...refusal(401, "invalid_client", `unknown client id ${named}`), clientId };
    }
    if (!source.auth.secret) {
      return {
        ...refusal(
          401,
          "invalid_client",
          `client ${named} authenticates with a signed JWT client assertion, not a secret`,
        ),
        clientId,
      };
    }
    if (!source.auth.secret.equals(secret)) {
      return { ...refusal(401, "invalid_client", `wrong client secret for ${named}`), clientId };
    }
    return { source, method };
  }

  return app;
}

/** The form's fields (each at most once), or a refusal. */
async function readForm(request: Request): Promise<Map<string, string> | Refusal> {
  const type = request.headers.get("content-type") ?? "";
  if (!/^application\/x-www-form-urlencoded\s*(;|$)/i.test(type)) {
    await request.body?.cancel().catch(() => {});
    return refusal(
      400,
      "invalid_request",
      `Content-Type must be application/x-www-form-urlencoded; got ${JSON.stringify(type || null)}`,
    );
  }
  let body: Awaited<ReturnType<typeof readLimited>>;
  try {
    body = await readLimited(request, MAX_FORM_BYTES);
  } catch (error) {
    if (error instanceof BodyTimeoutError) {
      return { ...refusal(408, "invalid_request", error.message), close: true };
    }
    return refusal(400, "invalid_request", "the form could not be read to its end");
  }
  if (!body.ok) {
    return refusal(413, "invalid_request", `the form is larger than ${MAX_FORM_BYTES} bytes`);
  }
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(body.bytes);
  } catch {
    return refusal(400, "invalid_request", "the form is not valid UTF-8");
  }
  const form = new Map<string, string>();
  for (const [name, value] of new URLSearchParams(text)) {
    if (form.has(name)) {
      return refusal(400, "invalid_request", `parameter ${name} is given more than once`);
    }
    form.set(name, value);
  }
  return form;
}

/** `{clientId, secret}` from `Basic base64(urlencode(id):urlencode(secret))`, or why not. */
function parseBasic(header: string): { clientId: string; secret: string } | string {
  const m = /^Basic\s+([A-Za-z0-9+/]+=*)\s*$/i.exec(header);
  if (!m) {
    return /^Basic\b/i.test(header)
      ? "the Authorization header is not valid Basic (base64 of client_id:client_secret)"
      : "the Authorization header must use the Basic scheme with your client id and secret";
  }
  let decoded: string;
  try {
    decoded = new TextDecoder("utf-8", { fatal: true }).decode(
      Uint8Array.from(atob(m[1]!), (ch) => ch.charCodeAt(0)),
    );
  } catch {
    return "the Authorization header is not valid Basic (base64 of client_id:client_secret)";
  }
  const colon = decoded.indexOf(":");
  if (colon < 0) return "the Basic credentials have no ':' between client id and secret";
  try {
    // RFC 6749 §2.3.1: both parts are form-urlencoded before they are joined.
    const unescape = (s: string) => decodeURIComponent(s.replace(/\+/g, " "));
    return {
      clientId: unescape(decoded.slice(0, colon)),
      secret: unescape(decoded.slice(colon + 1)),
    };
  } catch {
    return "the Basic credentials are not valid form-urlencoded text";
  }
}
