/**
 * One live activation per actor identity across every process sharing the KV: a lease key holding
 * the owner node and an expiry, taken and renewed with a versionstamp check.
 * @module
 */

import { keys } from "./keys.ts";
import { withKvRetry } from "./kv.ts";
import { isStorageFault, StoreUnavailableError } from "./health.ts";

interface LeaseValue {
  owner: string;
  expiresAt: number;
}

/** Lease timing. */
export interface LeaseOptions {
  /** How long a lease lives without renewal, default 30 s. */
  ttlMs?: number;
  now?: () => number;
}

/** Takes, renews and releases actor leases for one node. */
export class Leases {
  readonly #kv: Deno.Kv;
  readonly #node: string;
  readonly #ttl: number;
  readonly #now: () => number;

  /** Leases held in `kv` on behalf of `node`. */
  constructor(kv: Deno.Kv, node: string, options: LeaseOptions = {}) {
    this.#kv = kv;
    this.#node = node;
    this.#ttl = options.ttlMs ?? 30_000;
    this.#now = options.now ?? Date.now;
  }

  /** Renewal period: a third of the lifetime. */
  get renewEveryMs(): number {
    return Math.floor(this.#ttl / 3);
  }

  /**
   * Takes or renews the lease. True when this node holds it afterwards: it was free, expired, or
   * already ours (a restart of this same node takes its own lease back at once).
   */
  async acquire(actor: string): Promise<boolean> {
    const key = keys.lease(actor);
    const current = await this.#kv.get<LeaseValue>(key);
    const now = this.#now();
    if (current.value && current.value.owner !== this.#node && current.value.expiresAt > now) {
      return false;
    }
    const value: LeaseValue = { owner: this.#node, expiresAt: now + this.#ttl };
    try {
      const result = await withKvRetry(() =>
        this.#kv.atomic().check(current).set(key, value, { expireIn: this.#ttl * 2 }).commit()
      );
      return result.ok;
    } catch (error) {
      if (!isStorageFault(error)) throw error;
      // KV cannot commit (a full disk): a lease of ours that has not expired is still ours.
      if (current.value?.owner === this.#node && current.value.expiresAt > now) return true;
      throw new StoreUnavailableError(error);
    }
  }

  /** Gives the lease up if this node holds it. */
  async release(actor: string): Promise<void> {
    const key = keys.lease(actor);
    const current = await this.#kv.get<LeaseValue>(key);
    if (current.value?.owner !== this.#node) return;
    await withKvRetry(() => this.#kv.atomic().check(current).delete(key).commit());
  }

  /** The node holding an actor's lease, if any. */
  async owner(actor: string): Promise<string | undefined> {
    const v = (await this.#kv.get<LeaseValue>(keys.lease(actor))).value;
    return v && v.expiresAt > this.#now() ? v.owner : undefined;
  }
}
