/**
 * The HTTP API's shared state in KV: the key access tokens are signed with (one per KV, so every
 * process sharing it accepts the tokens of the others) and the `jti` of every client assertion
 * until it expires (so one assertion is accepted once across those processes).
 * @module
 */

import { keys } from "./keys.ts";
import { withKvRetry } from "./kv.ts";

/** The signing key of access tokens as stored. */
export interface SigningKeyRecord {
  kid: string;
  secret: Uint8Array;
  createdAt: number;
}

interface UsedJti {
  /** When the assertion stops being valid (ms): after that the jti may be recorded again. */
  until: number;
}

/** How long past `exp` a jti is kept at least, ms (clock tolerance between nodes). */
const KEEP_PAST_EXPIRY_MS = 60_000;
/** How long past its use a used `jti` record may stay before KV cleans it up. */
const WEEK_MS = 7 * 24 * 3600_000;

/** Reads and writes the HTTP API's shared state; see the module doc. */
export class AuthState {
  readonly #kv: Deno.Kv;

  /** State kept in `kv` (the store's KV). */
  constructor(kv: Deno.Kv) {
    this.#kv = kv;
  }

  /** The stored signing key, or a new one inserted atomically (a concurrent insert wins). */
  async signingKey(now: number): Promise<SigningKeyRecord> {
    const key = keys.accessTokenKey;
    for (let attempt = 0; attempt < 5; attempt++) {
      const existing = await this.#kv.get<SigningKeyRecord>(key);
      if (existing.value) return existing.value;
      const fresh: SigningKeyRecord = {
        kid: crypto.randomUUID(),
        secret: crypto.getRandomValues(new Uint8Array(32)),
        createdAt: now,
      };
      const result = await withKvRetry(() =>
        this.#kv.atomic().check({ key, versionstamp: null }).set(key, fresh).commit()
      );
      if (result.ok) return fresh;
    }
    throw new Error("access tokens: could not read or create the signing key in KV");
  }

  /**
   * Records `jti` for `clientId`, valid until `expiresAt` (ms): true the first time; false when
   * it is already recorded and its assertion has not expired (a replay). The record is inserted
   * with an atomic check that no live record exists: only the commit that wins may use it.
   */
  async useJti(
    clientId: string,
    jti: string,
    expiresAt: number,
    now: () => number,
  ): Promise<boolean> {
    const digest = new Uint8Array(
      await crypto.subtle.digest("SHA-256", new TextEncoder().encode(`${clientId}\u0000${jti}`)),
    );
    const key = keys.usedJti(digest);
    const until = expiresAt + KEEP_PAST_EXPIRY_MS;
    return await withKvRetry(async () => {
      const at = now();
      const seen = await this.#kv.get<UsedJti>(key);
      // KV deletes expired keys lazily: a record past its time no longer counts.
      if (seen.value && seen.value.until > at) return false;
      const result = await this.#kv.atomic()
        .check({ key, versionstamp: seen.versionstamp })
        // Cleanup only, a week late: KV expires keys by the reading process's wall clock, and a
        // node whose clock stepped forward would otherwise erase records still in use.
        .set(key, { until } satisfies UsedJti, { expireIn: Math.max(until - at, 1000) + WEEK_MS })
        .commit();
      return result.ok;
    });
  }
}
