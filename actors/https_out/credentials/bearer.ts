/**
 * The strategies that get an access token from a token endpoint (OAuth 2.0 client credentials,
 * JWT bearer, SMART Backend Services) all send it the same way: `authorization: Bearer <token>`.
 * @module
 */

import type { CredentialInfo, CredentialStrategy, HttpsAuthConfig } from "./strategy.ts";
import type { TokenCache } from "./token_cache.ts";

/** A strategy that sends the cached token of `cache`. */
export class BearerTokenStrategy implements CredentialStrategy {
  /** The config's `auth.type`. */
  readonly type: HttpsAuthConfig["type"];
  readonly #cache: TokenCache;

  /** Sends tokens from `cache`, for an `auth` of `type`. */
  constructor(type: HttpsAuthConfig["type"], cache: TokenCache) {
    this.type = type;
    this.#cache = cache;
  }

  /** The bearer header, fetching a token first when none is usable. */
  async apply(request: { signal?: AbortSignal }): Promise<Record<string, string>> {
    return { authorization: `Bearer ${await this.#cache.get(request.signal)}` };
  }

  /** Drops the cached token (the destination answered 401). */
  invalidate(): void {
    this.#cache.invalidate();
  }

  /** The type and the cached token's times. */
  info(): CredentialInfo {
    const c = this.#cache;
    if (c.expiresAt === undefined) return { type: this.type };
    return {
      type: this.type,
      tokenExpiresAt: c.expiresAt,
      ...(c.useUntil !== undefined ? { tokenRefreshAt: c.useUntil } : {}),
      ...(c.fetchedAt !== undefined ? { tokenFetchedAt: c.fetchedAt } : {}),
    };
  }
}
