/**
 * SMART Backend Services (SMART App Launch 2, "client-confidential-asymmetric"): client
 * credentials with a signed client assertion (`iss` = `sub` = client id, `aud` = the token URL,
 * `exp` under 5 minutes, a new `jti` each time, `kid` naming the key in the client's JWKS).
 * @module
 */

import { AssertionSigner } from "./assertion.ts";
import type { AuthOf, CredentialStrategy, StrategyDeps } from "./strategy.ts";
import { tokenGrantStrategy } from "./token_grant.ts";

/** The client assertion type of RFC 7523 §2.2. */
export const JWT_CLIENT_ASSERTION = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/** A strategy for an `auth` of type `smart-backend`. */
export function smartBackend(
  auth: AuthOf<"smart-backend">,
  deps: StrategyDeps,
): CredentialStrategy {
  const signer = AssertionSigner.forDestination(auth, deps);
  return tokenGrantStrategy({
    type: "smart-backend",
    tokenUrl: auth.tokenUrl,
    deps,
    grant: async () => {
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
      return { form };
    },
  });
}
