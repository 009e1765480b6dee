/** The JSON API of an engine composed by `startEngine()` (helpers/engine.ts) with `http: true`. */

import type { TestEngine } from "./engine.ts";

/** Where a test reaches the API. */
export interface Api {
  /** `http://127.0.0.1:<port>`. */
  base: string;
  /** An access token for a source with a client secret (fails the test on a refusal). */
  token(clientId: string, secret: string): Promise<string>;
}

/** The API of `engine`, which must serve HTTP (`startEngine(config, { http: true })`). */
export function apiOf(engine: TestEngine): Api {
  const base = engine.base;
  if (!base) throw new Error("the engine serves no HTTP: start it with { http: true }");
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
  };
}
