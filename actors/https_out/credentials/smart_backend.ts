/**
 * SMART Backend Services (SMART App Launch 2, "client-confidential-asymmetric"): client
 * credentials with a signed client assertion (`iss` = `sub` = client id, `aud` = the token URL,
 * `exp` under 5 minutes, a new `jti` each time, `kid` naming the key in the client's JWKS).
 * @module
 */

import { AssertionSigner } from "./assertion.ts";
import { BearerTokenStrategy } from "./bearer.ts";
import type { AuthOf, CredentialStrategy, StrategyDeps } from "./strategy.ts";
import { TokenCache } from "./token_cache.ts";
import { requestToken } from "./token_endpoint.ts";

/** The client assertion type of RFC 7523 §2.2. */
export const JWT_CLIENT_ASSERTION = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/** A strategy for an `auth` of type `smart-backend`. */
export function smartBackend(
  auth: AuthOf<"smart-backend">,
  deps: StrategyDeps,
): CredentialStrategy {
  const signer = new AssertionSigner({
    privateKey: auth.privateKey,
    algorithm: auth.algorithm,
    keyId: auth.keyId,
    clock: deps.clock,
    label: `destination "${deps.destinationId}": https.auth.privateKey`,
  });
  const cache = new TokenCache({
    clock: deps.clock,
    log: deps.log,
    destinationId: deps.destinationId,
    fetch: async (signal) => {
      const assertion = await signer.sign({
        iss: auth.clientId,
        sub: auth.clientId,
        aud: auth.tokenUrl,
      });
      const form = new URLSearchParams({
        grant_type: "client_credentials",
        scope: auth.scope,
        client_assertion_type: JWT_CLIENT_ASSERTION,
        client_assertion: assertion,
      });
      return await requestToken({
        sender: deps.sender,
        tokenUrl: auth.tokenUrl,
        form,
        timeoutMs: deps.timeoutMs,
        ...(signal ? { signal } : {}),
      });
    },
  });
  return new BearerTokenStrategy("smart-backend", cache);
}
