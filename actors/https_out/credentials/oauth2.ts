/**
 * OAuth 2.0 client credentials (RFC 6749 §4.4): the client id and secret sent with HTTP Basic
 * (§2.3.1: each form-urlencoded first) or in the form body, for a cached bearer token.
 * @module
 */

import type { AuthOf, CredentialStrategy, StrategyDeps } from "./strategy.ts";
import { tokenGrantStrategy } from "./token_grant.ts";

/** A strategy for an `auth` of type `oauth2`. */
export function oauth2ClientCredentials(
  auth: AuthOf<"oauth2">,
  deps: StrategyDeps,
): CredentialStrategy {
  return tokenGrantStrategy({
    type: "oauth2",
    tokenUrl: auth.tokenUrl,
    deps,
    grant: () => {
      const form = new URLSearchParams({ grant_type: "client_credentials" });
      if (auth.scope) form.set("scope", auth.scope);
      const headers: Record<string, string> = {};
      if (auth.secretIn === "basic") {
        headers.authorization = basicAuthorization(auth.clientId, auth.clientSecret.reveal());
      } else {
        form.set("client_id", auth.clientId);
        form.set("client_secret", auth.clientSecret.reveal());
      }
      return { form, headers };
    },
  });
}

/** `Basic base64(urlencode(id):urlencode(secret))` as RFC 6749 §2.3.1 says. */
export function basicAuthorization(clientId: string, secret: string): string {
  const pair = `${formEncode(clientId)}:${formEncode(secret)}`;
  const bytes = new TextEncoder().encode(pair);
  return `Basic ${btoa(String.fromCharCode(...bytes))}`;
}

/** application/x-www-form-urlencoded encoding of one value. */
function formEncode(value: string): string {
  return new URLSearchParams({ v: value }).toString().slice(2);
}
