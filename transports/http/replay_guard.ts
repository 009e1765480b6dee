/**
 * Remembers the `jti` of every client assertion until the assertion expires, in KV, so one
 * assertion is accepted once across every process sharing the KV: the record is inserted with an
 * atomic check that no live record exists, and only the commit that wins may use the assertion.
 * @module
 */

import { withKvRetry } from "../../actors/store/kv.ts";

interface UsedJti {
  /** When the assertion stops being valid (ms): after that the jti may be recorded again. */
  until: number;
}

/** How long past `exp` a jti is kept at least, ms (clock tolerance between nodes). */
const KEEP_PAST_EXPIRY_MS = 60_000;

/** Records used `jti` values per client; see the module doc. */
export class ReplayGuard {
  readonly #kv: Deno.Kv;
  readonly #now: () => number;

  /** A guard keeping its records in `kv`. */
  constructor(kv: Deno.Kv, options: { now?: () => number } = {}) {
    this.#kv = kv;
    this.#now = options.now ?? Date.now;
  }

  /**
   * Records `jti` for `clientId`, valid until `expiresAt` (ms). True the first time; false when
   * the jti is already recorded and its assertion has not expired (a replay).
   */
  async use(clientId: string, jti: string, expiresAt: number): Promise<boolean> {
    // Hashed: a jti may be long, and KV keys are limited to 2 KiB.
    const digest = new Uint8Array(
      await crypto.subtle.digest("SHA-256", new TextEncoder().encode(`${clientId}\u0000${jti}`)),
    );
    const key: Deno.KvKey = ["auth", "jti", digest];
    const until = expiresAt + KEEP_PAST_EXPIRY_MS;
    return await withKvRetry(async () => {
      const now = this.#now();
      const seen = await this.#kv.get<UsedJti>(key);
      // KV deletes expired keys lazily: a record past its time no longer counts.
      if (seen.value && seen.value.until > now) return false;
      const result = await this.#kv.atomic()
        .check({ key, versionstamp: seen.versionstamp })
        .set(key, { until } satisfies UsedJti, { expireIn: Math.max(until - now, 1000) })
        .commit();
      return result.ok;
    });
  }
}
