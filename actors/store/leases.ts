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
 * must stop ({@link Leases.valid} turns false, as it does at once when a renewal is refused), a
 * third before anyone else may take over.
 *
 * Expiry is judged by the reader, on its own monotonic clock, never from the owner's wall-clock
 * stamp: a lease held by another node is takeable once its renewal key has not changed (its
 * versionstamp) for a lifetime of the reader's elapsed time, observed across the reader's reads
 * ({@link Leases.observeAll} reads them all at each membership look, so a takeover need not wait
 * a lifetime from its first read); a renewal first seen counts as made then. A node whose clock
 * steps, or runs an hour off, can then neither keep a dead node's leases held nor take a live
 * one's. Neither key carries a KV expiry: KV expires keys by the wall clock of whichever process
 * reads or cleans the file, so one node whose clock stepped forward would delete every renewal
 * (and every lease would look free). Leases whose renewal has not changed for long are deleted
 * explicitly by {@link Leases.observeAll}. The renewal still carries `expiresAt` (the owner's clock
 * + lifetime) for engines of the previous version sharing the KV during an upgrade.
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
  /** The owner's wall clock + lifetime: read only by engines of the previous version. */
  expiresAt: number;
  /** The owner's lease lifetime: a reader waits at least this long for a change. */
  ttlMs?: number;
}

/** What this process has seen of a lease held by another node. */
interface Observed {
  /** The renewal key's versionstamp (the owner key's when there is no renewal key). */
  token: string;
  /** When this process first saw it, by its monotonic `elapsed()`. */
  at: number;
}

/** A lease whose renewal has not changed this long (and six lifetimes) is deleted. */
const FORGET_AFTER_MS = 60_000;

/** Lease timing. */
export interface LeaseOptions {
  /** How long a lease lives without renewal, default 30 s. */
  ttlMs?: number;
  now?: () => number;
  /**
   * Elapsed time for {@link Leases.valid} and for judging another node's lease expired, default
   * `performance.now` (real and monotonic: it runs on while the process is frozen, and a test's
   * manual clock does not age leases).
   */
  elapsed?: () => number;
  /**
   * Renewals per atomic operation (each checks its lease): what the KV allows, default 10 (a
   * self-hosted denokv); a local KV file takes 100 (`Store.leases` passes the store's own limit).
   * Fewer, larger renewals keep the renewal of many actors short when commits queue up under
   * load, so their leases do not lapse for want of a turn.
   */
  maxChecks?: number;
  /**
   * Told of leases this node took from another node (its lease expired: the node died or froze),
   * with that node's id, once each take committed: what the engine logs as a takeover.
   */
  onTakeover?: (taken: readonly { actor: string; from: string }[]) => void;
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
/** The prefix of every lease key: `keys.lease(actor)` less the actor. */
const LEASE_ROOT: Deno.KvKey = keys.lease("").slice(0, -1);

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
  readonly #onTakeover: LeaseOptions["onTakeover"];
  readonly #held = new Map<string, Held>();
  /** Other nodes' leases as this process has seen them change, by actor. */
  readonly #seen = new Map<string, Observed>();
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
    this.#onTakeover = options.onTakeover;
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
    if (!this.#takeable(actor, lease, renewal)) return false;
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
      if (this.#takeable(actor, lease, renewal)) free.push({ actor, lease, renewal });
    });
    if (free.length === 0) return [];
    if (await this.#take(free, started, since)) return free.map((t) => t.actor);
    // A check failed: some lease changed since the read. One by one, each with a fresh read.
    const got: string[] = [];
    for (const t of free) if (await this.#acquireOne(t.actor)) got.push(t.actor);
    return got;
  }

  /**
   * Free (never taken, or released), this node's own (a restart of this node takes its leases
   * back at once), or expired: its renewal unchanged for a lifetime of this process's elapsed time.
   */
  #takeable(
    actor: string,
    lease: Deno.KvEntryMaybe<LeaseValue>,
    renewal: Deno.KvEntryMaybe<RenewalValue>,
  ): boolean {
    if (!lease.value || lease.versionstamp === null) return true;
    if (lease.value.owner === this.#node) return true;
    return this.#silentFor(actor, lease.versionstamp, renewal) >= this.#ttlOf(renewal);
  }

  /** How long (elapsed, here) the lease read has been seen unchanged; 0 when it just changed. */
  #silentFor(
    actor: string,
    leaseStamp: string,
    renewal: Deno.KvEntryMaybe<RenewalValue>,
  ): number {
    const token = renewal.versionstamp ?? leaseStamp;
    const now = this.#elapsed();
    const seen = this.#seen.get(actor);
    if (seen?.token === token) return now - seen.at;
    this.#seen.set(actor, { token, at: now });
    return 0;
  }

  /** The lifetime a reader waits out: the longer of this node's and the owner's. */
  #ttlOf(renewal: Deno.KvEntryMaybe<RenewalValue>): number {
    const theirs = renewal.value?.ttlMs;
    return typeof theirs === "number" && theirs > this.#ttl ? theirs : this.#ttl;
  }

  /**
   * Reads every lease in KV and notes which changed since the last read (by this process's
   * elapsed time): called at each membership look, so that when a node dies its leases are
   * takeable a lifetime after their last renewal, not a lifetime after this node first reads them.
   * Leases of others unchanged for six lifetimes (at least a minute) are deleted: their owner is
   * gone (a live owner renews every third of a lifetime), and nobody took them. Runs on its own
   * schedule, never per message.
   */
  async observeAll(): Promise<void> {
    const found = new Map<
      string,
      { lease?: Deno.KvEntry<LeaseValue>; renewal?: Deno.KvEntry<RenewalValue> }
    >();
    // keys.lease(actor) is LEASE_ROOT + actor; its renewal key is one part longer.
    for await (const e of this.#kv.list<LeaseValue | RenewalValue>({ prefix: LEASE_ROOT })) {
      const actor = e.key[LEASE_ROOT.length];
      if (typeof actor !== "string") continue;
      const slot = found.get(actor) ?? {};
      if (e.key.length === LEASE_ROOT.length + 1) slot.lease = e as Deno.KvEntry<LeaseValue>;
      else if (e.key.length === LEASE_ROOT.length + 2 && e.key.at(-1) === "renew") {
        slot.renewal = e as Deno.KvEntry<RenewalValue>;
      } else continue;
      found.set(actor, slot);
    }
    for (const actor of this.#seen.keys()) if (!found.has(actor)) this.#seen.delete(actor);
    const stale: Take[] = [];
    for (const [actor, { lease, renewal }] of found) {
      if (!lease || lease.value.owner === this.#node) {
        this.#seen.delete(actor);
        continue;
      }
      const none: Deno.KvEntryMaybe<RenewalValue> = {
        key: renewalKey(actor),
        value: null,
        versionstamp: null,
      };
      const r = renewal ?? none;
      const silent = this.#silentFor(actor, lease.versionstamp, r);
      if (silent >= Math.max(FORGET_AFTER_MS, this.#ttlOf(r) * 6)) {
        stale.push({ actor, lease, renewal: r });
      }
    }
    for (const { actor, lease, renewal } of stale) {
      // Checked against what was read: a lease taken or renewed meanwhile stays.
      const result = await withKvRetry(() =>
        this.#kv.atomic().check(lease, renewal).delete(keys.lease(actor)).delete(renewalKey(actor))
          .commit()
      ).catch(() => undefined);
      if (result?.ok) this.#seen.delete(actor);
    }
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
            .set(renewalKey(actor), this.#renewal(started));
        }
        return op.commit();
      });
      if (!result.ok) return false;
      for (const { actor } of takes) {
        this.#held.set(actor, { token: result.versionstamp, renewedAt: since });
        this.#seen.delete(actor);
      }
      const fromOthers = takes.flatMap(({ actor, lease }) => {
        const from = lease.value?.owner;
        return from !== undefined && from !== this.#node ? [{ actor, from }] : [];
      });
      if (fromOthers.length > 0) this.#onTakeover?.(fromOthers);
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
        .set(renewalKey(a), this.#renewal(started));
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

  /**
   * A renewal record. No KV expiry (see the module doc); `expiresAt` on the owner's clock only
   * for engines of the previous version sharing the KV.
   */
  #renewal(started: number): RenewalValue {
    return { owner: this.#node, expiresAt: started + this.#ttl, ttlMs: this.#ttl };
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

  /**
   * The node holding an actor's lease, if any: not expired as this process judges it (another
   * node's renewal seen changing within a lifetime of elapsed time; a first read counts as a
   * change).
   */
  async owner(actor: string): Promise<string | undefined> {
    const [lease, renewal] = await this.#kv.getMany<[LeaseValue, RenewalValue]>([
      keys.lease(actor),
      renewalKey(actor),
    ]);
    if (!lease.value || lease.versionstamp === null) return undefined;
    if (lease.value.owner === this.#node) return this.#node;
    return this.#takeable(actor, lease, renewal) ? undefined : lease.value.owner;
  }

  /** Actors whose lease this node holds. */
  get held(): string[] {
    return [...this.#held.keys()];
  }
}
