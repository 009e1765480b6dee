/**
 * Credential strategies of HTTPS destinations, one module each, and the factory that picks one
 * from a destination's `auth` config.
 * @module
 */

import { AwsSigV4Strategy } from "./aws_sigv4.ts";
import { jwtBearer } from "./jwt_bearer.ts";
import { oauth2ClientCredentials } from "./oauth2.ts";
import { smartBackend } from "./smart_backend.ts";
import type { CredentialStrategy, HttpsConfig, StrategyDeps } from "./strategy.ts";
import { StaticTokenStrategy } from "./static_token.ts";
import { googleExternalAccount } from "./google_external_account.ts";
import { googleServiceAccount } from "./google_service_account.ts";

export {
  type AuthOf,
  CredentialError,
  type CredentialInfo,
  type CredentialStrategy,
  type HttpsAuthConfig,
  type HttpsConfig,
  type OutgoingRequest,
  type StrategyDeps,
} from "./strategy.ts";
export { ASSERTION_LIFETIME_S, AssertionSigner } from "./assertion.ts";
export { AwsSigV4Strategy } from "./aws_sigv4.ts";
export { BearerTokenStrategy, requestToken, type TokenRequest } from "./token_grant.ts";
export { JWT_BEARER_GRANT, jwtBearer } from "./jwt_bearer.ts";
export { basicAuthorization, oauth2ClientCredentials } from "./oauth2.ts";
export { JWT_CLIENT_ASSERTION, smartBackend } from "./smart_backend.ts";
export { StaticTokenStrategy } from "./static_token.ts";
export { TokenCache, type TokenGrant } from "./token_cache.ts";
export {
  ACCESS_TOKEN_TYPE,
  googleExternalAccount,
  TOKEN_EXCHANGE_GRANT,
} from "./google_external_account.ts";
export { GOOGLE_ASSERTION_LIFETIME_S, googleServiceAccount } from "./google_service_account.ts";
export { ALLOW_EXECUTABLES } from "./google_subject_token.ts";

/** The strategy for the `auth` of an HTTPS destination. */
export function createCredentialStrategy(
  https: HttpsConfig,
  deps: StrategyDeps,
): CredentialStrategy {
  const auth = https.auth;
  switch (auth.type) {
    case "token":
      return new StaticTokenStrategy(https.verificationToken);
    case "oauth2":
      return oauth2ClientCredentials(auth, deps);
    case "jwt-bearer":
      return jwtBearer(auth, deps);
    case "smart-backend":
      return smartBackend(auth, deps);
    case "aws-sigv4":
      return new AwsSigV4Strategy(auth, deps.clock);
    case "google-external-account":
      return googleExternalAccount(auth, deps);
    case "google-service-account":
      return googleServiceAccount(auth, deps);
  }
}
