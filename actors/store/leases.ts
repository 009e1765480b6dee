/**
 * One live activation per actor identity across every process sharing the KV, with fencing.
 *
 * A lease is two keys: `["lease", actor]` holds the owner and is written only when a node takes
 * the lease, so its versionstamp is the owner's *fencing token*; `["lease", actor, "renew"]`
 * holds the expiry and is rewritten by every renewal, checked against the token. A commit an
 * actor makes carries a check of its token ({@link Leases.fence}), so once another node has taken
 * the lease, nothing the old owner commits can land, however late it wakes up. Renewals never
 * change the token, so they never fail a commit of the rightful owner.
 *
 * Timing: renew every third of the lifetime; an owner that has not renewed for two thirds of it
 * must stop ({@link Leases.valid} turns false), a third before anyone else may take over.
 * @module
 */

import { keys } from "./keys.ts";
import { withKvRetry } from "./kv.ts";
import { isStorageFault, StoreUnavailableError } from "./health.ts";

interface LeaseValue {
  owner: string;
  /** Kept for readers of older records; the renewal key is the truth. */
  expiresAt?: number;
}

interface RenewalValue {
  owner: string;
  expiresAt: number;
}

/** Lease timing. */
export interface LeaseOptions {
  /** How long a lease lives without renewal, default 30 s. */
  ttlMs?: number;
  now?: () => number;
  /**
   * Elapsed time for {@link Leases.valid}, default `performance.now` (real and monotonic: it runs
   * on while the process is frozen, and a test's manual clock does not age leases).
   */
  elapsed?: () => number;
  /**
   * Renewals per atomic operation (each checks its lease): what the KV allows, default 10 (a
   * self-hosted denokv); a local KV file takes 100 (`Store.leases` passes the store's own limit).
   * Fewer, larger renewals keep the renewal of many actors short when commits queue up under
   * load, so their leases do not lapse for want of a turn.
   */
  maxChecks?: number;
}

/**
 * Leases taken per atomic operation by {@link Leases.acquireMany}: two checks each (owner and
 * renewal key), and a self-hosted denokv allows 10 checks (and 10 keys per read).
 */
export const ACQUIRE_BATCH = 5;
/**
 * A write of a queue's head refused by the lease check again and again while the head stayed as
 * it was: this node's lease of the queue is not the one in KV (another node took it over). Not
 * "the head is gone": the head is still queued, for the lease's holder.
 */
export class FencedError extends Error {
  /** `queue`'s write of entry `seq` was refused `attempts` times. */
  constructor(queue: string, seq: string, attempts: number) {
    super(
      `queue ${queue}: finishing entry ${seq} was refused ${attempts} times while the entry ` +
        `stayed unchanged: this node's lease of the queue is no longer the one in KV (or the ` +
        `entry's log kept changing)`,
    );
    this.name = "FencedError";
  }
}

interface Take {
  actor: string;
  lease: Deno.KvEntryMaybe<LeaseValue>;
  renewal: Deno.KvEntryMaybe<RenewalValue>;
}

const renewalKey = (actor: string): Deno.KvKey => [...keys.lease(actor), "renew"];

interface Held {
  /** Versionstamp of the lease key: the fencing token. */
  token: string;
  /** When the last successful renewal (or the take) started, by `elapsed()`. */
  renewedAt: number;
}

/** Takes, renews and releases actor leases for one node. */
export class Leases {
  readonly #kv: Deno.Kv;
  readonly #node: string;
  readonly #ttl: number;
  readonly #now: () => number;
  readonly #elapsed: () => number;
  readonly #renewPerCommit: number;
  readonly #held = new Map<string, Held>();
  /**
   * Takes under way, by actor. A second take of a lease this node is taking would take it again
   * (a lease this node owns is takeable: a restart takes its own leases back) and change the
   * fencing token under the activation the first one started, whose commits would then be refused.
   */
  readonly #taking = new Map<string, Promise<unknown>>();

  /** Leases held in `kv` on behalf of `node`. */
  constructor(kv: Deno.Kv, node: string, options: LeaseOptions = {}) {
    this.#kv = kv;
    this.#node = node;
    this.#ttl = options.ttlMs ?? 30_000;
    this.#now = options.now ?? Date.now;
    this.#elapsed = options.elapsed ?? (() => performance.now());
    this.#renewPerCommit = Math.max(1, options.maxChecks ?? 10);
  }

  /** The lease lifetime in ms. */
  get ttlMs(): number {
    return this.#ttl;
  }

  /** Renewal period: a third of the lifetime. */
  get renewEveryMs(): number {
    return Math.floor(this.#ttl / 3);
  }

  /** Without a renewal for this long, the owner stops: two thirds of the lifetime. */
  get stopAfterMs(): number {
    return Math.floor(this.#ttl * 2 / 3);
  }

  /**
   * True while this node holds the lease of `actor` and renewed it less than two thirds of the
   * lifetime ago: only then may the actor send or commit.
   */
  valid(actor: string): boolean {
    const h = this.#held.get(actor);
    return h !== undefined && this.#elapsed() - h.renewedAt < this.stopAfterMs;
  }

  /** The token (versionstamp) of the lease this node holds for `actor`, if any. */
  tokenOf(actor: string): string | undefined {
    return this.#held.get(actor)?.token;
  }

  /** The check that fences a commit of `actor`'s: the lease is still the one this node took. */
  fence(actor: string): Deno.AtomicCheck | undefined {
    const h = this.#held.get(actor);
    return h && { key: keys.lease(actor), versionstamp: h.token };
  }

  /**
   * Takes or renews the lease. True when this node holds it afterwards: it was free, expired, or
   * already ours (a restart of this same node takes its own lease back at once).
   */
  async acquire(actor: string): Promise<boolean> {
    // One take at a time per actor: a caller that finds one under way waits for it, then renews.
    for (let pending = this.#taking.get(actor); pending; pending = this.#taking.get(actor)) {
      await pending.catch(() => {});
    }
    if (this.#held.has(actor)) return (await this.renew([actor])).length === 0;
    return await this.#taken([actor], this.#acquireOne(actor));
  }

  /** Runs `take` as the take under way of each of `actors`. */
  async #taken<T>(actors: readonly string[], take: Promise<T>): Promise<T> {
    for (const a of actors) this.#taking.set(a, take);
    try {
      return await take;
    } finally {
      for (const a of actors) if (this.#taking.get(a) === take) this.#taking.delete(a);
    }
  }

  /**
   * {@link acquire} of a lease this node does not hold, without waiting for a take under way (the
   * caller is that take: {@link acquire} has looked for it in `#held`, and {@link acquireMany}'s
   * batches hold only actors it found neither held nor being taken).
   */
  async #acquireOne(actor: string): Promise<boolean> {
    const started = this.#now();
    const since = this.#elapsed();
    const [lease, renewal] = await this.#kv.getMany<[LeaseValue, RenewalValue]>([
      keys.lease(actor),
      renewalKey(actor),
    ]);
    if (!this.#takeable(lease, renewal, started)) return false;
    return await this.#take([{ actor, lease, renewal }], started, since);
  }

  /**
   * {@link acquire} for many actors, {@link ACQUIRE_BATCH} per read and per atomic operation
   * (a takeover of hundreds of actors is then a few dozen commits, not hundreds); returns those
   * this node holds afterwards. When a batch's check fails (another node took one of them
   * meanwhile), its actors are taken one by one, so only the contested ones are missed. Every
   * lease taken in one commit has that commit's versionstamp as its token, as a lone take has.
   */
  async acquireMany(actors: readonly string[]): Promise<string[]> {
    const got: string[] = [];
    const ours: string[] = [];
    const fresh: string[] = [];
    const busy: string[] = [];
    for (const a of new Set(actors)) {
      (this.#held.has(a) ? ours : this.#taking.has(a) ? busy : fresh).push(a);
    }
    if (ours.length > 0) {
      const lost = new Set(await this.renew(ours));
      got.push(...ours.filter((a) => !lost.has(a)));
    }
    for (let i = 0; i < fresh.length; i += ACQUIRE_BATCH) {
      // Taken or being taken by another caller since: that one's take stands.
      const slice = fresh.slice(i, i + ACQUIRE_BATCH);
      const batch = slice.filter((a) => !this.#taking.has(a) && !this.#held.has(a));
      busy.push(...slice.filter((a) => !batch.includes(a)));
      if (batch.length > 0) got.push(...await this.#taken(batch, this.#acquireBatch(batch)));
    }
    // Being taken by another caller: waited for, then renewed.
    for (const a of busy) if (await this.acquire(a)) got.push(a);
    return got;
  }

  async #acquireBatch(actors: string[]): Promise<string[]> {
    const started = this.#now();
    const since = this.#elapsed();
    const entries = await this.#kv.getMany(actors.flatMap((a) => [keys.lease(a), renewalKey(a)]));
    const free: Take[] = [];
    actors.forEach((actor, i) => {
      const lease = entries[2 * i] as Deno.KvEntryMaybe<LeaseValue>;
      const renewal = entries[2 * i + 1] as Deno.KvEntryMaybe<RenewalValue>;
      if (this.#takeable(lease, renewal, started)) free.push({ actor, lease, renewal });
    });
    if (free.length === 0) return [];
    if (await this.#take(free, started, since)) return free.map((t) => t.actor);
    // A check failed: some lease changed since the read. One by one, each with a fresh read.
    const got: string[] = [];
    for (const t of free) if (await this.#acquireOne(t.actor)) got.push(t.actor);
    return got;
  }

  /** Free, expired, or this node's own (a restart of this node takes its leases back at once). */
  #takeable(
    lease: Deno.KvEntryMaybe<LeaseValue>,
    renewal: Deno.KvEntryMaybe<RenewalValue>,
    now: number,
  ): boolean {
    const expiresAt = renewal.value?.expiresAt ?? lease.value?.expiresAt ?? 0;
    return !lease.value || lease.value.owner === this.#node || expiresAt <= now;
  }

  /** Takes every lease of `takes` in one atomic operation, checked against what was read. */
  async #take(takes: Take[], started: number, since: number): Promise<boolean> {
    try {
      const result = await withKvRetry(() => {
        const op = this.#kv.atomic();
        for (const { actor, lease, renewal } of takes) {
          op.check(lease, renewal)
            // No expiry on the owner key: its versionstamp is the fencing token every commit of
            // the actor checks, and KV expiring it under a live owner (after 4 lifetimes, it used
            // to) lost the lease of every actor that ran that long. The renewal key says when it
            // ends.
            .set(keys.lease(actor), { owner: this.#node })
            .set(renewalKey(actor), { owner: this.#node, expiresAt: started + this.#ttl }, {
              expireIn: this.#ttl * 2,
            });
        }
        return op.commit();
      });
      if (!result.ok) return false;
      for (const { actor } of takes) {
        this.#held.set(actor, { token: result.versionstamp, renewedAt: since });
      }
      return true;
    } catch (error) {
      if (!isStorageFault(error)) throw error;
      throw new StoreUnavailableError(error);
    }
  }

  /**
   * Renews the leases of `actors` (this node's), a few per atomic operation; returns those lost
   * (another node took them). A renewal that cannot commit leaves the lease to age: the caller
   * stops an actor once {@link valid} says so.
   */
  async renew(actors: readonly string[]): Promise<string[]> {
    const lost: string[] = [];
    const mine = actors.filter((a) => {
      if (this.#held.has(a)) return true;
      lost.push(a);
      return false;
    });
    for (let i = 0; i < mine.length; i += this.#renewPerCommit) {
      const batch = mine.slice(i, i + this.#renewPerCommit);
      const started = this.#now();
      const since = this.#elapsed();
      const ok = await this.#renewBatch(batch, started);
      if (ok) {
        for (const a of batch) {
          const h = this.#held.get(a);
          if (h) h.renewedAt = since;
        }
        continue;
      }
      // One of them was taken: renew one by one to learn which.
      for (const a of batch) {
        const h = this.#held.get(a);
        if (h && await this.#renewBatch([a], started)) h.renewedAt = since;
        else {
          this.#held.delete(a);
          lost.push(a);
        }
      }
    }
    return lost;
  }

  async #renewBatch(actors: string[], started: number): Promise<boolean> {
    const op = this.#kv.atomic();
    for (const a of actors) {
      const h = this.#held.get(a);
      if (!h) return false;
      op.check({ key: keys.lease(a), versionstamp: h.token })
        .set(renewalKey(a), { owner: this.#node, expiresAt: started + this.#ttl }, {
          expireIn: this.#ttl * 2,
        });
    }
    try {
      return (await withKvRetry(() => op.commit())).ok;
    } catch (error) {
      if (!isStorageFault(error)) throw error;
      // KV refuses every commit (a full disk): no other node can take the lease over either, so
      // it stays ours. A KV that cannot be reached never answers instead, and `valid` turns false.
      return true;
    }
  }

  /** Gives the lease up if this node holds it. */
  async release(actor: string, token?: string): Promise<void> {
    const h = this.#held.get(actor);
    // A stale release (of an activation whose lease was since taken again) leaves the new one be.
    if (token !== undefined && h !== undefined && h.token !== token) return;
    this.#held.delete(actor);
    const lease = await this.#kv.get<LeaseValue>(keys.lease(actor));
    if (lease.value?.owner !== this.#node) return;
    // Only the lease this node took (the token), not a newer one of the same node id.
    if (h && lease.versionstamp !== h.token) return;
    await withKvRetry(() =>
      this.#kv.atomic().check(lease).delete(keys.lease(actor)).delete(renewalKey(actor)).commit()
    );
  }

  /** The node holding an actor's lease, if any (unexpired). */
  async owner(actor: string): Promise<string | undefined> {
    const [lease, renewal] = await this.#kv.getMany<[LeaseValue, RenewalValue]>([
      keys.lease(actor),
      renewalKey(actor),
    ]);
    const expiresAt = renewal.value?.expiresAt ?? lease.value?.expiresAt ?? 0;
    return lease.value && expiresAt > this.#now() ? lease.value.owner : undefined;
  }

  /** Actors whose lease this node holds. */
  get held(): string[] {
    return [...this.#held.keys()];
  }
}
