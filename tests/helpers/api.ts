/** The HTTPS API of a running engine on loopback, wired by `app/compose.ts` (`apiApp`). */

import type { Config } from "../../actors/config/mod.ts";
import type { Engine } from "../../actors/engine/engine.ts";
import type { Logger } from "../../actors/runtime/log.ts";
import { apiApp } from "../../app/compose.ts";

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
  const app = await apiApp(config, engine, log);
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
