/**
 * OAuth 2.0 two-legged with a JWT bearer assertion for Google APIs: the service-account key JSON
 * (`type: "service_account"`) signs an RS256 assertion (`kid` = `private_key_id`, `iss` =
 * `client_email`, `scope`, `aud` = `token_uri`, `iat`, `exp` one hour ahead, and `sub` only for
 * domain-wide delegation), exchanged at the key's `token_uri` with
 * `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer` for a cached bearer token.
 * @module
 */

import { importPKCS8, SignJWT } from "jose";
import { errorMessage } from "../../runtime/errors.ts";
import { JWT_BEARER_GRANT } from "./jwt_bearer.ts";
import {
  type AuthOf,
  CredentialError,
  type CredentialStrategy,
  type StrategyDeps,
} from "./strategy.ts";
import { tokenGrantStrategy } from "./token_grant.ts";

/** Google accepts assertions valid for at most an hour. */
export const GOOGLE_ASSERTION_LIFETIME_S = 3600;

/** A strategy for an `auth` of type `google-service-account`. */
export function googleServiceAccount(
  auth: AuthOf<"google-service-account">,
  deps: StrategyDeps,
): CredentialStrategy {
  const key = auth.credentials;
  let imported: Promise<CryptoKey> | undefined;
  const importKey = async () => {
    try {
      return await importPKCS8(key.privateKey.reveal(), "RS256");
    } catch (error) {
      throw new CredentialError(
        `the private_key of ${key.source} is not a PKCS#8 RSA key: ${errorMessage(error)}`,
        { cause: error },
      );
    }
  };
  return tokenGrantStrategy({
    type: "google-service-account",
    tokenUrl: key.tokenUri,
    deps,
    grant: async () => {
      const signingKey = await (imported ??= importKey().catch((error) => {
        imported = undefined;
        throw error;
      }));
      const now = Math.floor(deps.clock.now() / 1000);
      const jwt = new SignJWT({ scope: auth.scope })
        .setProtectedHeader({ alg: "RS256", typ: "JWT", kid: key.privateKeyId })
        .setIssuer(key.clientEmail)
        .setAudience(key.tokenUri)
        .setIssuedAt(now)
        .setExpirationTime(now + GOOGLE_ASSERTION_LIFETIME_S);
      if (auth.subject) jwt.setSubject(auth.subject);
      const assertion = await jwt.sign(signingKey);
      return { form: new URLSearchParams({ grant_type: JWT_BEARER_GRANT, assertion }) };
    },
  });
}
