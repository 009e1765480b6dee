/**
 * What the three token-endpoint strategies share: a cached bearer token, fetched by POSTing a
 * form to the token URL. Each strategy only says what its form (and headers) hold.
 * @module
 */

import { BearerTokenStrategy } from "./bearer.ts";
import type { CredentialStrategy, HttpsAuthConfig, StrategyDeps } from "./strategy.ts";
import { TokenCache } from "./token_cache.ts";
import { requestToken } from "./token_endpoint.ts";

/** One token request's form and extra headers. */
export interface GrantRequest {
  form: URLSearchParams;
  headers?: Record<string, string>;
}

/** A strategy that gets its bearer token from `tokenUrl` with the request `grant` builds. */
export function tokenGrantStrategy(options: {
  type: HttpsAuthConfig["type"];
  tokenUrl: string;
  deps: StrategyDeps;
  grant(): Promise<GrantRequest> | GrantRequest;
}): CredentialStrategy {
  const { deps } = options;
  const cache = new TokenCache({
    clock: deps.clock,
    log: deps.log,
    destinationId: deps.destinationId,
    fetch: async (signal) => {
      const { form, headers } = await options.grant();
      return await requestToken({
        sender: deps.sender,
        tokenUrl: options.tokenUrl,
        form,
        ...(headers ? { headers } : {}),
        timeoutMs: deps.timeoutMs,
        ...(signal ? { signal } : {}),
      });
    },
  });
  return new BearerTokenStrategy(options.type, cache);
}
