/**
 * An access token kept between requests: used until shortly before it expires (30 s, or a tenth
 * of its lifetime when that is shorter), dropped on a 401, and fetched by one request at a time.
 * A lifetime is taken as one year at most ({@link MAX_TOKEN_LIFETIME_S}).
 * @module
 */

import type { Clock } from "../../runtime/clock.ts";
import type { Logger } from "../../runtime/log.ts";

/** An access token as granted. */
export interface TokenGrant {
  accessToken: string;
  /** `expires_in` in seconds, when the endpoint said (the cache takes one year at most). */
  expiresInS?: number;
}

/** How a {@link TokenCache} gets tokens. */
export interface TokenCacheOptions {
  clock: Clock;
  log: Logger;
  /** For log lines. */
  destinationId: string;
  /** Asks the token endpoint for a new token. */
  fetch(signal: AbortSignal | undefined): Promise<TokenGrant>;
  /** Lifetime assumed when the endpoint gives no `expires_in`, default 300 s. */
  defaultLifetimeS?: number;
}

/** Refresh this long before expiry at most. */
const MAX_MARGIN_MS = 30_000;

/**
 * The longest a token is taken to live: one year (365 days). A longer `expires_in` (some servers
 * say "never expires" with 9999999999999, or 1e308) counts as one year, so every time computed
 * from it stays a valid date; such a token is fetched again at least once a year, and at once
 * after a 401.
 */
export const MAX_TOKEN_LIFETIME_S = 365 * 24 * 3600;

interface Cached {
  token: string;
  fetchedAt: number;
  /** When the endpoint said it expires (or the assumed lifetime ends). */
  expiresAt: number;
  /** When the token stops being used (shortly before the endpoint's expiry). */
  useUntil: number;
  /**
   * The same moment on the monotonic clock: what {@link TokenCache.get} compares with, as
   * `expires_in` is a duration (a wall-clock step back would otherwise keep an expired token).
   */
  useUntilMono: number;
}

/** See the module doc. */
export class TokenCache {
  readonly #options: TokenCacheOptions;
  #cached: Cached | undefined;
  #fetching: Promise<Cached> | undefined;
  /** Bumped by invalidate(), so a fetch started before it cannot restore a refused token. */
  #generation = 0;

  /** A cache over `options.fetch`. */
  constructor(options: TokenCacheOptions) {
    this.#options = options;
  }

  /** A usable token: the cached one, or a new one. Rejects when the endpoint refuses. */
  async get(signal?: AbortSignal): Promise<string> {
    const mono = this.#options.clock.monotonic();
    if (this.#cached && mono < this.#cached.useUntilMono) return this.#cached.token;
    this.#fetching ??= this.#fetch(signal).finally(() => (this.#fetching = undefined));
    return (await this.#fetching).token;
  }

  /** Forgets the cached token. */
  invalidate(): void {
    if (this.#cached) {
      this.#options.log.info("https.token-invalidated", {
        destination: this.#options.destinationId,
      });
    }
    this.#cached = undefined;
    this.#generation++;
  }

  /** When the cached token stops being used, if one is cached. */
  get useUntil(): number | undefined {
    return this.#cached?.useUntil;
  }

  /** When the cached token expires, if one is cached. */
  get expiresAt(): number | undefined {
    return this.#cached?.expiresAt;
  }

  /** When the cached token was fetched, if one is cached. */
  get fetchedAt(): number | undefined {
    return this.#cached?.fetchedAt;
  }

  async #fetch(signal: AbortSignal | undefined): Promise<Cached> {
    const { clock, log } = this.#options;
    const generation = this.#generation;
    const fetchedAt = clock.now();
    const fetchedMono = clock.monotonic();
    const grant = await this.#options.fetch(signal);
    const lifetimeMs = lifetimeS(grant.expiresInS ?? this.#options.defaultLifetimeS ?? 300) * 1000;
    const margin = Math.min(MAX_MARGIN_MS, lifetimeMs / 10);
    const cached = {
      token: grant.accessToken,
      fetchedAt,
      expiresAt: fetchedAt + lifetimeMs,
      useUntil: fetchedAt + lifetimeMs - margin,
      useUntilMono: fetchedMono + lifetimeMs - margin,
    };
    if (generation === this.#generation) this.#cached = cached;
    log.info("https.token-fetched", {
      destination: this.#options.destinationId,
      expiresInS: grant.expiresInS ?? "unsaid",
      useUntil: new Date(cached.useUntil).toISOString(),
    });
    return cached;
  }
}

/** `seconds` as a lifetime: at most {@link MAX_TOKEN_LIFETIME_S}, and 0 when not a number ≥ 0. */
function lifetimeS(seconds: number): number {
  return seconds >= 0 ? Math.min(seconds, MAX_TOKEN_LIFETIME_S) : 0;
}
