/**
 * The JWT bearer grant (RFC 7523 §2.1): a signed assertion (`iss` issuer, `sub` subject, `aud`
 * the audience or the token URL) exchanged for a cached bearer token.
 * @module
 */

import { AssertionSigner } from "./assertion.ts";
import type { AuthOf, CredentialStrategy, StrategyDeps } from "./strategy.ts";
import { tokenGrantStrategy } from "./token_grant.ts";

/** The grant type of RFC 7523. */
export const JWT_BEARER_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/** A strategy for an `auth` of type `jwt-bearer`. */
export function jwtBearer(auth: AuthOf<"jwt-bearer">, deps: StrategyDeps): CredentialStrategy {
  const signer = AssertionSigner.forDestination(auth, deps);
  return tokenGrantStrategy({
    type: "jwt-bearer",
    tokenUrl: auth.tokenUrl,
    deps,
    grant: async () => {
      const assertion = await signer.sign({
        iss: auth.issuer,
        sub: auth.subject,
        aud: auth.audience ?? auth.tokenUrl,
      });
      const form = new URLSearchParams({ grant_type: JWT_BEARER_GRANT, assertion });
      if (auth.scope) form.set("scope", auth.scope);
      return { form };
    },
  });
}
