/**
 * The JSON API on a Hono app of its own: OAuth 2.0 client credentials (`/v2/auth/token`), then
 * data-model messages (`/endpoint`, `/query`), FHIR message bundles, and messages other engines
 * forward (agent mode), under one per-IP rate limit.
 * @module
 */

import { Hono } from "hono";
import type { Config } from "../actors/config/mod.ts";
import type { Engine } from "../actors/engine/engine.ts";
import type { Logger } from "../actors/runtime/log.ts";
import { AccessTokens } from "../transports/http/access_token.ts";
import { ClientAssertionVerifier } from "../transports/http/client_assertion.ts";
import { createEndpointApp } from "../transports/http/endpoint.ts";
import { createFhirApp } from "../transports/http/fhir.ts";
import { createForwardApp } from "../transports/http/forward.ts";
import { RateLimiter } from "../transports/http/rate_limit.ts";
import { createTokenApp, tokenUrlFor } from "../transports/http/token_endpoint.ts";

/** The JSON API: OAuth 2.0 client credentials (`/v2/auth/token`), then data-model messages
 * (`/endpoint`, `/query`). Tests that serve only the API use this too. */
export async function apiApp(config: Config, engine: Engine, log: Logger): Promise<Hono> {
  const app = new Hono();
  const tokens = await AccessTokens.open({ state: engine.store.auth });
  app.route(
    "/",
    createTokenApp({
      sources: config.sources,
      tokens,
      assertions: new ClientAssertionVerifier({
        sources: config.sources,
        state: engine.store.auth,
      }),
      ...(config.http.publicUrl ? { tokenUrls: [tokenUrlFor(config.http.publicUrl)] } : {}),
      // Token requests are few; more than this per address in 5 minutes is a misbehaving client.
      rateLimiter: new RateLimiter({ limit: 300, windowMs: 300_000 }),
      log,
    }),
  );
  // One per-IP limit for the JSON and the FHIR API.
  const rateLimiter = new RateLimiter({
    limit: config.limits.rateLimitPerIp,
    windowMs: config.limits.rateLimitWindowSeconds * 1000,
  });
  app.route(
    "/",
    createEndpointApp({
      tokens,
      inbox: engine.api,
      queries: engine.queries,
      limits: config.limits,
      rateLimiter,
      log,
    }),
  );
  app.route(
    "/",
    createFhirApp({ tokens, inbox: engine.api, limits: config.limits, rateLimiter, log }),
  );
  // Agent mode: messages other engines forward (a source's token, mapped to an integration).
  app.route("/", createForwardApp({ tokens, inbox: engine.forwards, rateLimiter, log }));
  return app;
}
