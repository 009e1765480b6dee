/** The HTTPS API of a running engine on loopback, wired as `main.ts` wires it. */

import { Hono } from "hono";
import type { Config } from "../../actors/config/mod.ts";
import type { Engine } from "../../actors/engine/engine.ts";
import type { Logger } from "../../actors/runtime/log.ts";
import { AccessTokens } from "../../transports/http/access_token.ts";
import { ClientAssertionVerifier } from "../../transports/http/client_assertion.ts";
import { createEndpointApp } from "../../transports/http/endpoint.ts";
import { createTokenApp } from "../../transports/http/token_endpoint.ts";

/** A served API. */
export interface ApiServer {
  /** `http://127.0.0.1:<port>`. */
  base: string;
  /** An access token for a source with a client secret (fails the test on a refusal). */
  token(clientId: string, secret: string): Promise<string>;
  close(): Promise<void>;
}

/** Serves `/v2/auth/token`, `/endpoint` and `/query` of `engine` on a free loopback port. */
export async function serveApi(engine: Engine, config: Config, log: Logger): Promise<ApiServer> {
  const tokens = await AccessTokens.open({ state: engine.store.auth });
  const app = new Hono();
  app.route(
    "/",
    createTokenApp({
      sources: config.sources,
      tokens,
      assertions: new ClientAssertionVerifier({
        sources: config.sources,
        state: engine.store.auth,
      }),
      log,
    }),
  );
  app.route(
    "/",
    createEndpointApp({
      tokens,
      inbox: engine.api,
      queries: engine.queries,
      limits: config.limits,
      log,
    }),
  );
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: () => {} }, app.fetch);
  const base = `http://127.0.0.1:${server.addr.port}`;
  return {
    base,
    async token(clientId, secret) {
      const res = await fetch(`${base}/v2/auth/token`, {
        method: "POST",
        headers: { authorization: `Basic ${btoa(`${clientId}:${secret}`)}` },
        body: new URLSearchParams({ grant_type: "client_credentials" }),
      });
      const body = await res.json();
      if (res.status !== 200) throw new Error(`token refused: ${JSON.stringify(body)}`);
      return body.access_token;
    },
    close: () => server.shutdown(),
  };
}
