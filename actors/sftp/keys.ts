/**
 * Key rotation for SFTP logins: an endpoint may list several private keys, each with an optional
 * validity window (`notBefore`, `notAfter`). The newest valid key is tried first (latest
 * `notBefore`; without one a key counts as oldest; on a tie the later in the list); older valid
 * keys follow, so a counterparty that has not installed the new public key yet still lets us in.
 * Expired and not-yet-valid keys are never offered. Which key is in use is shown to operators.
 * @module
 */

import type { Secret } from "../config/secret.ts";

/** One configured key (the shape of the config's `keys[]`). */
export interface SshKeyConfig {
  privateKey: Secret;
  passphrase?: Secret;
  /** ISO 8601 date-time with offset. */
  notBefore?: string;
  notAfter?: string;
}

/** A key that may be used now. */
export interface UsableKey {
  /** Position in the configured list. */
  index: number;
  /** Where the key came from (`env:NAME`, `file:path`): safe to show. */
  source: string;
  privateKey: string;
  passphrase?: string;
  notBefore?: number;
  notAfter?: number;
}

/** Why a configured key is not offered. */
export interface SkippedKey {
  index: number;
  source: string;
  reason: string;
}

/** No configured key is valid at the moment. */
export class NoUsableKeyError extends Error {
  /** Every key with the reason it was skipped. */
  readonly skipped: SkippedKey[];

  /** Explains each skipped key. */
  constructor(skipped: SkippedKey[]) {
    super(
      `no SSH key is valid now: ${
        skipped.map((s) => `key ${s.index} (${s.source}) ${s.reason}`).join("; ")
      }`,
    );
    this.name = "NoUsableKeyError";
    this.skipped = skipped;
  }
}

function time(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : ms;
}

/**
 * The keys valid at `now`, newest first (see the module doc), and the ones skipped with why.
 */
export function usableKeys(
  keys: readonly SshKeyConfig[],
  now: number,
): { usable: UsableKey[]; skipped: SkippedKey[] } {
  const usable: UsableKey[] = [];
  const skipped: SkippedKey[] = [];
  keys.forEach((key, index) => {
    const source = key.privateKey.source;
    const notBefore = time(key.notBefore);
    const notAfter = time(key.notAfter);
    if (notBefore !== undefined && now < notBefore) {
      skipped.push({ index, source, reason: `is not valid before ${key.notBefore}` });
    } else if (notAfter !== undefined && now >= notAfter) {
      skipped.push({ index, source, reason: `expired at ${key.notAfter}` });
    } else {
      usable.push({
        index,
        source,
        privateKey: key.privateKey.reveal(),
        ...(key.passphrase ? { passphrase: key.passphrase.reveal() } : {}),
        ...(notBefore !== undefined ? { notBefore } : {}),
        ...(notAfter !== undefined ? { notAfter } : {}),
      });
    }
  });
  usable.sort((a, b) =>
    (b.notBefore ?? -Infinity) - (a.notBefore ?? -Infinity) || b.index - a.index
  );
  return { usable, skipped };
}

/** The key last used for a successful login, as the admin endpoint shows it. */
export interface KeyInUse {
  index: number;
  source: string;
  notBefore?: string;
  notAfter?: string;
  /** Set when a newer valid key was refused by the server and this older one let us in. */
  fallback?: boolean;
  since: number;
}

/** The keys of one endpoint and the one in use; see the module doc. */
export class KeyRing {
  readonly #keys: readonly SshKeyConfig[];
  #inUse: KeyInUse | undefined;

  /** The configured keys of one endpoint. */
  constructor(keys: readonly SshKeyConfig[]) {
    if (keys.length === 0) throw new Error("an SFTP endpoint needs at least one key");
    this.#keys = keys;
  }

  /** Keys to try at `now`, newest first; throws {@link NoUsableKeyError} when there is none. */
  candidates(now: number): UsableKey[] {
    const { usable, skipped } = usableKeys(this.#keys, now);
    if (usable.length === 0) throw new NoUsableKeyError(skipped);
    return usable;
  }

  /**
   * Records the key a login succeeded with; returns true when it differs from the one used before
   * (a rotation worth logging).
   */
  used(key: UsableKey, now: number, fallback: boolean): boolean {
    const changed = this.#inUse?.index !== key.index;
    const config = this.#keys[key.index];
    this.#inUse = {
      index: key.index,
      source: key.source,
      ...(config?.notBefore ? { notBefore: config.notBefore } : {}),
      ...(config?.notAfter ? { notAfter: config.notAfter } : {}),
      ...(fallback ? { fallback: true } : {}),
      since: changed ? now : this.#inUse?.since ?? now,
    };
    return changed;
  }

  /** The key in use, if a login succeeded yet. */
  get inUse(): KeyInUse | undefined {
    return this.#inUse;
  }

  /** Each configured key with its state at `now` (never the key itself). */
  describe(now: number): { index: number; source: string; state: string }[] {
    const { usable, skipped } = usableKeys(this.#keys, now);
    return [
      ...usable.map((k) => ({ index: k.index, source: k.source, state: "valid" })),
      ...skipped.map((k) => ({
        index: k.index,
        source: k.source,
        state: k.reason.startsWith("expired") ? "expired" : "not yet valid",
      })),
    ].sort((a, b) => a.index - b.index);
  }
}
