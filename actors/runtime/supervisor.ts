/**
 * The supervisor: activates actors on their first message or at start when their queue is not empty,
 * supervises them one-for-one (a crash restarts that actor with backoff; no other actor notices),
 * lets idle ones deactivate, holds their leases, and answers inspection and operator commands.
 * @module
 */

import type { QueueItem } from "../store/requests.ts";

import type { Actor, ActorCommand, ActorStatus, CommandResult } from "./actor.ts";
import { type Clock, systemClock } from "./clock.ts";
import type { Cluster } from "./cluster.ts";
import { ACQUIRE_BATCH, type Leases } from "../store/leases.ts";
import type { Logger } from "./log.ts";
import type { Store } from "../store/store.ts";
import { StoreUnavailableError } from "../store/health.ts";
import { waitWritable } from "./storage_wait.ts";
import { errorMessage } from "./errors.ts";

/** Makes the actor for an identity, or `undefined` if the identity is unknown. */
export type ActorFactory = (id: string) => Actor | undefined;

/** What the supervisor needs. */
export interface SupervisorOptions {
  store: Store;
  factory: ActorFactory;
  log: Logger;
  /** Every identity the config defines (shown by inspection even while inactive). */
  knownIds?: () => Iterable<string>;
  leases?: Leases;
  /**
   * Scale-out: the live nodes and which one each actor belongs to. An actor is activated only on
   * its node; when nodes come or go, actors that belong elsewhere now are handed over (the
   * message in flight finishes, then the lease is released).
   */
  cluster?: Cluster;
  /** Actors with no queue to be activated by (SFTP pollers): kept active on their node. */
  alwaysOn?: () => Iterable<string>;
  clock?: Clock;
  /**
   * The clock the lease loops (renewal, fencing, membership) sleep on and time with: it must be
   * the one the leases age on (their `elapsed`); the system clock by default, whatever
   * {@link clock} the actors are given.
   */
  leaseClock?: Clock;
  /**
   * How long a queue with entries may go without any live node serving it (no running node's
   * config can build its actor: see `Cluster.served`) before `cluster.actor-unserved` is
   * warned, default 10 s (a node restarting, a destination's queue being moved).
   */
  unservedGraceMs?: number;
  /** How often to look for queues written by other processes, default 1 s; 0 disables. */
  pollMs?: number;
  /** Restart backoff bounds in ms, default 100 ms doubling to 30 s. */
  restartBaseMs?: number;
  restartMaxMs?: number;
}

/**
 * Lease commits {@link Supervisor} has in flight side by side when restoring non-empty queues
 * (each takes up to {@link ACQUIRE_BATCH} leases): enough to hide a remote KV's round trips,
 * few enough not to crowd out the commits of the actors already running.
 */
const RESTORE_PARALLEL = 20;

/** Actors named on one `actor.lease-expired` line; the rest are counted. */
export const LEASE_EXPIRED_LISTED = 10;

/** `cluster.actor-unserved` is repeated for one actor at most this often while it lasts. */
export const UNSERVED_WARN_EVERY_MS = 10 * 60_000;

/** Crashes in a row (no run in between lasting the longest backoff) that make an actor failing. */
export const CRASH_LOOP = 3;

interface Activation {
  actor: Actor;
  abort: AbortController;
  done: Promise<void>;
  restarts: number;
  lastCrash?: string;
  /** Crashes in a row; reset by a run that lasts. */
  crashes: number;
  /** Set while the actor waits for KV to take writes again (not a crash of its own). */
  waitingForStorage: boolean;
  /** Belongs to another node now: stops once its message in flight is done. */
  handingOver: boolean;
  /** A message is on the wire (between {@link Supervisor.beginSend} and `endSend`). */
  sending: boolean;
  /** The lease this activation took: released at its end only if still the one held. */
  leaseToken?: string;
}

/** An actor that is not running as it should, for `/healthz`. */
export interface SupervisionProblem {
  actor: string;
  /** Crashes in a row. */
  crashes: number;
  reason: string;
}

/** See the module doc. */
export class Supervisor {
  readonly #options: SupervisorOptions;
  readonly #clock: Clock;
  readonly #active = new Map<string, Activation>();
  readonly #restarts = new Map<string, number>();
  readonly #stopping = new AbortController();
  #background: Promise<void>[] = [];
  /** The clock the leases age on (see {@link SupervisorOptions.leaseClock}). */
  #leaseClock: Clock;
  /** When the last renewal of every held lease that went through began, by `#leaseClock`. */
  #renewedAt: number | undefined;
  /** How late the renewal loop's timer fired last (the process not running meanwhile). */
  #renewLateMs = 0;
  /** When the fencing loop is due to wake next, by `#leaseClock`. */
  #fenceDueAt: number | undefined;
  /** Queues no live node serves: since when (by `#leaseClock`), and when last warned. */
  readonly #unserved = new Map<string, { since: number; warnedAt?: number }>();

  /** A supervisor over `options.store`; call {@link start} to restore queues. */
  constructor(options: SupervisorOptions) {
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
    this.#leaseClock = options.leaseClock ?? systemClock;
    options.cluster?.attachLog(options.log);
  }

  /** Activates every actor whose queue holds messages, and starts the background loops. */
  async start(): Promise<void> {
    const { cluster, leases } = this.#options;
    if (cluster) await cluster.refresh();
    if (leases) {
      // Leases age in real time whatever clock the actors are given (see Leases.valid). Renewed
      // from the start: restoring hundreds of actors can take longer than a lease lives without
      // renewal, and the first ones started would lapse before the last were.
      this.#renewedAt = this.#leaseClock.monotonic(); // leases taken from now on
      this.#background.push(
        this.#loop(leases.renewEveryMs, (late) => this.#renewLeases(late), this.#leaseClock),
      );
      const watch = Math.max(20, Math.min(250, Math.floor(leases.stopAfterMs / 8)));
      this.#background.push(
        this.#loop(watch, (late) => this.#fenceExpired(late), this.#leaseClock, (due) => {
          this.#fenceDueAt = due;
        }),
      );
    }
    await this.#restore();
    const poll = this.#options.pollMs ?? 1000;
    if (poll > 0) this.#background.push(this.#loop(poll, () => this.#restore()));
    if (leases && cluster) {
      // Looked at as often as queues are (a heartbeat is one small write): a dead node is seen
      // within a poll of its heartbeat going stale, not a third of a lease later, and its actors
      // are restored at once (see #membership).
      const every = leases.renewEveryMs;
      const look = poll > 0 ? Math.min(every, poll) : every;
      this.#background.push(this.#loop(look, () => this.#membership(), systemClock));
    }
  }

  /**
   * Called by an actor's deliverer just before a message goes on the wire: false (and the actor
   * is stopped) when it may not send — its lease is no longer certainly held (not renewed for two
   * thirds of its lifetime: a frozen or partitioned node), or it is being handed over.
   */
  beginSend(id: string, options: { onWire?: boolean } = {}): boolean {
    const a = this.#active.get(id);
    if (!a || a.abort.signal.aborted) return false;
    const leases = this.#options.leases;
    // A message that went out already (sent ahead by its socket) is taken in even while handing
    // over: its ACK is on its way, and the next owner would send it again.
    if ((a.handingOver && !options.onWire) || (leases && !leases.valid(id))) {
      // Found before the fencing loop's next look (the process just ran again after a pause):
      // that look now, one line for every actor whose lease lapsed, this one among them.
      if (!a.handingOver) {
        const due = this.#fenceDueAt;
        void this.#fenceExpired(due === undefined ? 0 : this.#leaseClock.monotonic() - due);
      }
      a.abort.abort();
      return false;
    }
    a.sending = true;
    return true;
  }

  /** The message `beginSend` allowed is done (its outcome is being recorded). */
  endSend(id: string): void {
    const a = this.#active.get(id);
    if (!a) return;
    a.sending = false;
    // A handover waits for this: once the actor has started its completion (it does so as soon
    // as it has the outcome, before a timer can fire), it stops.
    if (a.handingOver) setTimeout(() => a.abort.abort(), 0);
  }

  /**
   * True while other live nodes share the KV (scale-out): their commits to a queue may land after
   * this node's with older seqs, so a delivery actor confirms its queue's head in KV before each
   * send and its socket sends nothing ahead (see DeliveryActor). False without a cluster.
   */
  shared(): boolean {
    return this.#options.cluster?.shared ?? false;
  }

  /** Which node an actor belongs to (this one without a cluster). */
  ownerOf(id: string): string | undefined {
    return this.#options.cluster?.ownerOf(id);
  }

  /** Wakes (activating if needed) the actor `id`: new work is in its queue. */
  notify(id: string): void {
    const a = this.#active.get(id);
    if (a) a.actor.notify();
    else {
      this.activate(id).catch((error) => {
        // Its queue keeps the work: the restore loop activates it on its next round.
        if (error instanceof StoreUnavailableError) this.#options.store.health.failed(error);
        else this.#options.log.error("actor.activate-failed", { actor: id, error });
      });
    }
  }

  /**
   * Hands entries just committed to queue `id` to its actor in memory (activating it if needed;
   * a fresh activation reads them from KV).
   */
  handOver(id: string, items: readonly QueueItem[]): void {
    const a = this.#active.get(id);
    // With other live nodes, another process may have committed older entries to this queue:
    // the actor reads KV in seq order instead of taking these ahead of them.
    if (a?.actor.take && !this.shared()) a.actor.take(items);
    else this.notify(id);
  }

  /** Activates `id` if it is not already active; false if unknown or leased elsewhere. */
  async activate(id: string): Promise<boolean> {
    if (this.#active.has(id)) return true;
    if (this.#stopping.signal.aborted) return false;
    if (this.#options.cluster && !this.#options.cluster.isMine(id)) return false;
    const actor = this.#options.factory(id);
    if (!actor) return false;
    if (this.#options.leases && !(await this.#options.leases.acquire(id))) return false;
    if (this.#active.has(id)) return true; // activated while the lease was being taken
    this.#begin(id, actor);
    return true;
  }

  /** Runs `actor` as `id`, whose lease (if any) this node has just taken. */
  #begin(id: string, actor: Actor): void {
    const abort = new AbortController();
    const activation: Activation = {
      actor,
      abort,
      done: Promise.resolve(),
      restarts: this.#restarts.get(id) ?? 0,
      crashes: 0,
      waitingForStorage: false,
      handingOver: false,
      sending: false,
    };
    const token = this.#options.leases?.tokenOf(id);
    if (token !== undefined) activation.leaseToken = token;
    this.#active.set(id, activation);
    activation.done = this.#supervise(id, activation);
  }

  async #supervise(id: string, a: Activation): Promise<void> {
    const base = this.#options.restartBaseMs ?? 100;
    const max = this.#options.restartMaxMs ?? 30_000;
    while (!a.abort.signal.aborted) {
      const started = this.#clock.now();
      try {
        await a.actor.run(a.abort.signal);
        break;
      } catch (error) {
        if (error instanceof StoreUnavailableError) {
          // KV cannot commit: not this actor's fault, and restarting it at once would only fail
          // again. The store's health logged the fault (once per interval); the actor resumes
          // from KV once writes succeed.
          a.waitingForStorage = true;
          await waitWritable(this.#options.store.health, this.#clock, a.abort.signal);
          a.waitingForStorage = false;
          if (a.abort.signal.aborted) break;
          a.actor = this.#options.factory(id) ?? a.actor;
          continue;
        }
        // Fenced or handed over meanwhile: not restarted here (the new owner resumes from KV).
        const leases = this.#options.leases;
        if (a.handingOver || (leases && !leases.valid(id))) break;
        // A crash may be the fence refusing its commits (another node took the lease): the lease
        // is checked in KV before a restart, which would send the head again. Lost, the actor
        // stays stopped until this node takes the lease again (restore or a new message).
        if (leases && !(await this.#stillHeld(id, leases))) {
          this.#options.log.warn("actor.lease-lost", { actor: id, error });
          break;
        }
        // A run that lasted longer than the longest backoff ends a crash loop.
        if (this.#clock.now() - started >= max) a.crashes = 0;
        a.crashes++;
        a.restarts++;
        this.#restarts.set(id, a.restarts);
        a.lastCrash = errorMessage(error);
        const delay = Math.min(max, base * 2 ** (a.crashes - 1));
        this.#options.log.error("actor.crashed", {
          actor: id,
          error,
          restartInMs: delay,
          restarts: a.restarts,
        });
        await this.#clock.sleep(delay, a.abort.signal);
        if (a.abort.signal.aborted) break;
        // A fresh instance: whatever state the crash left in memory is not trusted; KV is.
        a.actor = this.#options.factory(id) ?? a.actor;
      }
    }
    this.#active.delete(id);
    // A newer activation of the same actor may hold the lease by now (taken again after this one
    // was stopped): only this activation's own lease is released.
    await this.#options.leases?.release(id, a.leaseToken).catch(() => {});
    this.#options.log.debug("actor.deactivated", { actor: id });
  }

  /**
   * Stops `id` once its message in flight is done, as a handover does (a config reload changed
   * or removed it); resolves when it has stopped. False if it was not active. Its queue stays in
   * KV: the next activation (through the factory, with the new settings) resumes it in order.
   */
  async retire(id: string): Promise<boolean> {
    const a = this.#active.get(id);
    if (!a) return false;
    a.handingOver = true;
    a.actor.hold?.();
    if (!a.sending) a.abort.abort();
    await a.done;
    return true;
  }

  /** Stops every actor and waits for them; releases their leases; leaves the cluster. */
  async stop(): Promise<void> {
    this.#stopping.abort();
    const all = [...this.#active.values()];
    for (const a of all) a.abort.abort();
    await Promise.all(all.map((a) => a.done));
    await Promise.all(this.#background);
    // The others take this node's actors at their next membership look, not a lease later.
    await this.#options.cluster?.leave().catch(() => {});
  }

  /**
   * Actors crashing in a loop ({@link CRASH_LOOP} crashes in a row or more). Actors waiting for KV
   * are not listed: the store's health says why. Cheap: no KV read.
   */
  get problems(): SupervisionProblem[] {
    const out: SupervisionProblem[] = [];
    for (const [id, a] of this.#active) {
      if (a.crashes >= CRASH_LOOP && !a.waitingForStorage) {
        out.push({ actor: id, crashes: a.crashes, reason: a.lastCrash ?? "crashed" });
      }
    }
    return out;
  }

  /** Ids of the active actors. */
  get activeIds(): string[] {
    return [...this.#active.keys()];
  }

  /** The actor instance for `id`, activating it (used by transports that hand it work). */
  async get(id: string): Promise<Actor | undefined> {
    await this.activate(id);
    return this.#active.get(id)?.actor;
  }

  /** Status of one actor, active or not; undefined if the identity is unknown. */
  async status(id: string): Promise<ActorStatus | undefined> {
    const a = this.#active.get(id);
    if (a) {
      return {
        ...(await a.actor.status()),
        restarts: a.restarts,
        ...(a.lastCrash ? { lastError: a.lastCrash } : {}),
      };
    }
    const actor = this.#options.factory(id);
    if (!actor) return undefined;
    // Inactive: its queue and pause state are in KV; the actor object is built only to describe.
    return {
      ...(await actor.status()),
      state: (await this.#options.store.getControl(id)).paused ? "paused" : "idle",
    };
  }

  /** Status of every known or active actor. */
  async statuses(): Promise<ActorStatus[]> {
    const ids = new Set<string>([...this.#options.knownIds?.() ?? [], ...this.#active.keys()]);
    for (const q of (await this.#options.store.nonEmptyQueues()).keys()) {
      if (this.#options.factory(q)) ids.add(q);
    }
    const out: ActorStatus[] = [];
    for (const id of [...ids].sort()) {
      const s = await this.status(id);
      if (s) out.push(s);
    }
    return out;
  }

  /** Runs an operator command on `id`, activating it first. */
  async command(
    id: string,
    command: ActorCommand,
    by: string,
    reason: string,
  ): Promise<CommandResult | undefined> {
    const actor = await this.get(id);
    if (!actor) {
      if (!this.#options.factory(id)) return undefined;
      const owner = this.#options.cluster?.ownerOf(id);
      return {
        ok: false,
        message: owner && owner !== this.#options.cluster?.node
          ? `actor ${id} belongs to node ${owner}: send the command there`
          : `actor ${id} is active on another node`,
      };
    }
    const result = await actor.command(command, by, reason);
    this.#options.log.info("actor.command", {
      actor: id,
      command,
      by,
      reason,
      ok: result.ok,
      result: result.message,
    });
    return result;
  }

  async #restore(): Promise<void> {
    const cluster = this.#options.cluster;
    const queued = await this.#options.store.nonEmptyQueues();
    if (cluster) this.#warnUnserved(cluster, queued);
    const ids = [
      ...queued.keys(),
      ...this.#options.alwaysOn?.() ?? [],
    ];
    const waiting = [...new Set(ids)].filter((id) =>
      !this.#active.has(id) && (!cluster || cluster.isMine(id))
    );
    const leases = this.#options.leases;
    if (!leases) {
      await Promise.all(waiting.map((id) => this.activate(id)));
      return;
    }
    const actors = new Map<string, Actor>();
    for (const id of waiting) {
      const actor = this.#options.factory(id);
      if (actor) actors.set(id, actor);
    }
    // A takeover (a node died) or a restart finds hundreds of actors waiting: their leases are
    // taken a batch per commit, several commits side by side. One lease per commit, the last of
    // 300 actors of a killed node started seconds after the first on a loaded machine.
    const batches: string[][] = [];
    const all = [...actors.keys()];
    for (let i = 0; i < all.length; i += ACQUIRE_BATCH) {
      batches.push(all.slice(i, i + ACQUIRE_BATCH));
    }
    let next = 0;
    const lane = async () => {
      while (next < batches.length && !this.#stopping.signal.aborted) {
        const batch = batches[next++]!.filter((id) => !this.#active.has(id));
        for (const id of await leases.acquireMany(batch)) {
          // Activated meanwhile (a message came): that activation runs under this same lease.
          if (this.#active.has(id)) continue;
          if (this.#stopping.signal.aborted || (cluster && !cluster.isMine(id))) {
            await leases.release(id).catch(() => {});
            continue;
          }
          this.#begin(id, actors.get(id)!);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(RESTORE_PARALLEL, batches.length) }, lane));
  }

  /**
   * Warns (`cluster.actor-unserved`, once per actor, again every {@link UNSERVED_WARN_EVERY_MS}
   * while it lasts) of queues with entries that no live node serves past the grace: their
   * messages were accepted and stay queued until a node whose config builds the actor runs.
   */
  #warnUnserved(cluster: Cluster, queued: Map<string, number>): void {
    const now = this.#leaseClock.monotonic();
    const grace = this.#options.unservedGraceMs ?? 10_000;
    for (const id of this.#unserved.keys()) {
      if (!queued.has(id) || cluster.served(id)) this.#unserved.delete(id);
    }
    for (const [id, depth] of queued) {
      if (cluster.served(id)) continue;
      let u = this.#unserved.get(id);
      if (!u) this.#unserved.set(id, u = { since: now });
      if (now - u.since < grace) continue;
      if (u.warnedAt !== undefined && now - u.warnedAt < UNSERVED_WARN_EVERY_MS) continue;
      u.warnedAt = now;
      this.#options.log.warn("cluster.actor-unserved", {
        actor: id,
        queued: depth,
        forMs: Math.round(now - u.since),
        live: cluster.liveIds,
        reason: "no running node's config has this actor (an MLLP listener port, a destination " +
          "or an integration it names): its queued messages wait until a node that has it runs",
        hint: "start a node whose config has it (or add it back to a running node's config)",
      });
    }
  }

  /** Renews `id`'s lease now: false when it is lost (the renewal was refused) or lapsed. */
  async #stillHeld(id: string, leases: Leases): Promise<boolean> {
    try {
      if ((await leases.renew([id])).length > 0) return false;
    } catch {
      // KV unreachable: the lease ages, and `valid` says when it may no longer be trusted.
    }
    return leases.valid(id);
  }

  async #renewLeases(lateMs: number): Promise<void> {
    this.#renewLateMs = lateMs;
    const started = this.#leaseClock.monotonic();
    const lost = await this.#options.leases!.renew([...this.#active.keys()]);
    this.#renewedAt = started;
    for (const id of lost) {
      const a = this.#active.get(id);
      if (!a) continue;
      this.#options.log.warn("actor.lease-lost", { actor: id });
      a.abort.abort();
    }
  }

  /**
   * Stops at once every actor whose lease is no longer certainly held (fencing), with one
   * `actor.lease-expired` line for them all: how many, the first {@link LEASE_EXPIRED_LISTED},
   * how long since the last renewal, and whether the process itself did not run meanwhile (a
   * lease loop's timer `lateMs` late by a renewal period or more: that alone lapses a lease).
   */
  #fenceExpired(lateMs: number): Promise<void> {
    const leases = this.#options.leases!;
    const expired: string[] = [];
    for (const [id, a] of this.#active) {
      if (a.abort.signal.aborted || leases.valid(id)) continue;
      expired.push(id);
      a.abort.abort();
    }
    if (expired.length === 0) return Promise.resolve();
    const since = this.#renewedAt === undefined
      ? undefined
      : Math.round(this.#leaseClock.monotonic() - this.#renewedAt);
    const stalled = Math.round(Math.max(lateMs, this.#renewLateMs));
    const paused = stalled >= leases.renewEveryMs;
    this.#options.log.warn("actor.lease-expired", {
      count: expired.length,
      // In id order: the same set reads the same whatever order the actors were started in.
      actors: expired.sort().slice(0, LEASE_EXPIRED_LISTED),
      ...(expired.length > LEASE_EXPIRED_LISTED
        ? { more: expired.length - LEASE_EXPIRED_LISTED }
        : {}),
      ...(since !== undefined ? { sinceLastRenewalMs: since } : {}),
      ...(paused ? { notRunMs: stalled } : {}),
      reason: `not renewed${since === undefined ? "" : ` for ${since} ms`}, past the ` +
        `${leases.stopAfterMs} ms a lease may go unrenewed` +
        (paused
          ? `: the process did not run for ${stalled} ms (paused, or its event loop blocked)`
          : ""),
    });
    this.#renewLateMs = 0;
    return Promise.resolve();
  }

  /** Heartbeat; when the live nodes changed, hands over what belongs elsewhere now. */
  async #membership(): Promise<void> {
    const cluster = this.#options.cluster!;
    const changed = await cluster.refresh();
    // Every lease's renewal, seen changing or not on this node's clock, while other nodes hold
    // some: a dead node's leases are then takeable a lifetime after their last renewal. (Alone,
    // nothing is looked at: leases of nodes gone before are taken a lifetime after their first
    // read.)
    if (cluster.shared || changed) {
      await this.#options.leases!.observeAll().catch((error) => {
        // A failed look only delays a takeover: the membership change below must not wait on it.
        this.#options.log.warn("supervisor.background-failed", { error });
      });
    }
    if (!changed) return;
    this.#options.log.info("cluster.changed", { live: cluster.liveIds });
    for (const [id, a] of this.#active) {
      if (cluster.isMine(id) || a.handingOver) continue;
      a.handingOver = true;
      this.#options.log.info("actor.handover", { actor: id, to: cluster.ownerOf(id) });
      if (!a.sending) a.abort.abort();
    }
    await this.#restore();
  }

  /**
   * Runs `fn` every `everyMs` on `clock`, telling it how late its timer fired (ms); `onSleep`
   * learns when each wake-up is due.
   */
  async #loop(
    everyMs: number,
    fn: (lateMs: number) => Promise<void>,
    clock: Clock = this.#clock,
    onSleep?: (due: number) => void,
  ): Promise<void> {
    const signal = this.#stopping.signal;
    while (!signal.aborted) {
      const due = clock.monotonic() + everyMs;
      onSleep?.(due);
      await clock.sleep(everyMs, signal);
      if (signal.aborted) break;
      try {
        await fn(Math.max(0, clock.monotonic() - due));
      } catch (error) {
        if (error instanceof StoreUnavailableError) this.#options.store.health.failed(error);
        else this.#options.log.warn("supervisor.background-failed", { error });
      }
    }
  }
}
