/**
 * The supervisor: activates actors on their first message or at start when their queue is not empty,
 * supervises them one-for-one (a crash restarts that actor with backoff; no other actor notices),
 * lets idle ones deactivate, holds their leases, and answers inspection and operator commands.
 *
 * The parts, each in a module of its own: `supervisor_options.ts` (the types),
 * `supervisor_restore.ts` (activating the actors of non-empty queues, leases taken in batches),
 * `supervisor_leases.ts` (renewal and fencing), `supervisor_unserved.ts` (queues no live node
 * serves: warned of, and listed by {@link Supervisor.unserved}), `supervisor_inspection.ts`
 * (statuses, problems, operator commands) and `supervisor_loop.ts` (the background loops). This
 * module keeps what runs per message ({@link Supervisor.beginSend}, `endSend`, `notify`,
 * `handOver`), activation and the one-for-one restart loop, and membership changes.
 * @module
 */

import { settlesWithin } from "./settles_within.ts";
import type { QueueItem } from "../store/requests.ts";

import type { Actor, ActorCommand, ActorStatus, CommandResult } from "./actor.ts";
import { type Clock, systemClock } from "./clock.ts";
import { StoreUnavailableError } from "../store/health.ts";
import { waitWritable } from "./storage_wait.ts";
import { errorMessage } from "./errors.ts";
import type { Activation, SupervisionProblem, SupervisorOptions } from "./supervisor_options.ts";
import { LeaseKeeper, stillHeld } from "./supervisor_leases.ts";
import { type UnservedQueue, UnservedWarnings } from "./supervisor_unserved.ts";
import { restoreActors, type RestoreContext } from "./supervisor_restore.ts";
import {
  type InspectionContext,
  problemsOf,
  runCommand,
  statusesOf,
  statusOf,
} from "./supervisor_inspection.ts";
import { runEvery } from "./supervisor_loop.ts";

export type { ActorFactory, SupervisionProblem, SupervisorOptions } from "./supervisor_options.ts";
export { LEASE_EXPIRED_LISTED } from "./supervisor_leases.ts";
export { UNSERVED_WARN_EVERY_MS } from "./supervisor_unserved.ts";
export type { UnservedQueue } from "./supervisor_unserved.ts";
export { CRASH_LOOP } from "./supervisor_inspection.ts";

/** How the delivery actors' part of a stop went (see {@link Supervisor.drain}). */
export interface DeliveryDrainReport {
  /** Delivery actors held (those that were active when the stop began). */
  actors: number;
  /** Of those, stopped at the end of the grace with a message still unanswered or uncommitted. */
  cutOff: number;
  /** Deliveries marked during the stop (their completion committed). */
  marked: number;
  /** Deliveries that may have arrived and are not marked: sent again after the restart. */
  unmarked: number;
  /** From the hold to the last actor's end, ms. */
  drainMs: number;
}

/** The grace a stop gives the delivery actors when not told (see {@link Supervisor.drain}). */
export const DEFAULT_DELIVERY_DRAIN_MS = 10_000;

/** See the module doc. */
export class Supervisor {
  readonly #options: SupervisorOptions;
  readonly #clock: Clock;
  readonly #active = new Map<string, Activation>();
  readonly #restarts = new Map<string, number>();
  readonly #stopping = new AbortController();
  /**
   * Aborted when a stop begins (its drain, before {@link #stopping}): from then on no actor is
   * activated or restored, while the background loops (lease renewal) still run.
   */
  readonly #closing = new AbortController();
  /** The delivery actors' drain a stop begins with, once begun (no activation from then on). */
  #draining: Promise<DeliveryDrainReport> | undefined;
  #background: Promise<void>[] = [];
  /** The clock the leases age on (see {@link SupervisorOptions.leaseClock}). */
  #leaseClock: Clock;
  /** Renewal and fencing of the active actors' leases (used only with `options.leases`). */
  readonly #leaseKeeper: LeaseKeeper;
  /** Queues no live node serves, warned of by each restore round. */
  readonly #unserved: UnservedWarnings;
  /** What restoring reads of this supervisor. */
  readonly #restoreContext: RestoreContext;
  /** What inspection reads of this supervisor. */
  readonly #inspection: InspectionContext;

  /** A supervisor over `options.store`; call {@link start} to restore queues. */
  constructor(options: SupervisorOptions) {
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
    this.#leaseClock = options.leaseClock ?? systemClock;
    this.#leaseKeeper = new LeaseKeeper(options, this.#active, this.#leaseClock);
    this.#unserved = new UnservedWarnings(options, this.#leaseClock);
    this.#restoreContext = {
      options,
      active: this.#active,
      stopping: this.#closing.signal,
      activate: (id) => this.activate(id),
      begin: (id, actor) => this.#begin(id, actor),
    };
    this.#inspection = { options, active: this.#active, stopping: this.#stopping.signal };
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
      const keeper = this.#leaseKeeper;
      keeper.started(); // leases taken from now on
      this.#background.push(
        this.#loop(leases.renewEveryMs, (late) => keeper.renew(late), this.#leaseClock),
      );
      const watch = Math.max(20, Math.min(250, Math.floor(leases.stopAfterMs / 8)));
      this.#background.push(
        this.#loop(watch, (late) => keeper.fenceExpired(late), this.#leaseClock, (due) => {
          keeper.fenceDue(due);
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
      if (!a.handingOver) this.#leaseKeeper.fenceNow();
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
    if (this.#closing.signal.aborted) return false;
    if (this.#options.cluster && !this.#options.cluster.isMine(id)) return false;
    const actor = this.#options.factory(id);
    if (!actor) return false;
    if (this.#options.leases && !(await this.#options.leases.acquire(id))) return false;
    if (this.#active.has(id)) return true; // activated while the lease was being taken
    if (this.#closing.signal.aborted) {
      // A stop began while the lease was being taken: nothing more is started.
      await this.#options.leases?.release(id).catch(() => {});
      return false;
    }
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
        if (leases && !(await stillHeld(id, leases))) {
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
    letGo(a);
    await a.done;
    return true;
  }

  /**
   * The first step of a stop, for the delivery actors (those that can {@link Actor.hold}): each
   * sends nothing new, and the message it has on the wire (with one its socket sent ahead) is
   * taken in, its completion committed, before it stops — as {@link retire} does — so that what
   * a destination acknowledged is marked before the store closes. Bounded by `graceMs` (an
   * attempt also ends at its own ACK timeout): at the end of it those still waiting are stopped,
   * their message left queued (sent again after the restart). From the first call on nothing is
   * activated; a second call joins the first. Leases are still renewed meanwhile. Logged as
   * `delivery.stopped`.
   */
  drain(graceMs: number = DEFAULT_DELIVERY_DRAIN_MS): Promise<DeliveryDrainReport> {
    return this.#draining ??= this.#drain(graceMs);
  }

  async #drain(graceMs: number): Promise<DeliveryDrainReport> {
    this.#closing.abort();
    const started = performance.now();
    const held = [...this.#active.values()].filter((a) => a.actor.hold);
    for (const a of held) letGo(a);
    const ended = new Set<Activation>();
    const all = Promise.all(held.map((a) => a.done.then(() => void ended.add(a))));
    await settlesWithin(all, graceMs);
    const cut = held.filter((a) => !ended.has(a));
    for (const a of cut) a.abort.abort();
    await all;
    const report: DeliveryDrainReport = {
      actors: held.length,
      cutOff: cut.length,
      marked: 0,
      unmarked: 0,
      drainMs: Math.round(performance.now() - started),
    };
    for (const a of held) {
      const counts = a.actor.held?.();
      report.marked += counts?.marked ?? 0;
      report.unmarked += counts?.unmarked ?? 0;
    }
    if (held.length > 0) {
      this.#options.log[report.unmarked > 0 ? "warn" : "info"]("delivery.stopped", {
        ...report,
        ...(report.unmarked > 0
          ? { effect: "the unmarked messages stay queued and are sent again after the restart" }
          : {}),
      });
    }
    return report;
  }

  /**
   * Stops every actor and waits for them; releases their leases; leaves the cluster. The delivery
   * actors first take in what is on the wire, within `graceMs` (see {@link drain}, joined if a
   * stop began it already).
   */
  async stop(options: { graceMs?: number } = {}): Promise<DeliveryDrainReport> {
    const drained = await this.drain(options.graceMs);
    this.#stopping.abort();
    const all = [...this.#active.values()];
    for (const a of all) a.abort.abort();
    await Promise.all(all.map((a) => a.done));
    await Promise.all(this.#background);
    // The others take this node's actors at their next membership look, not a lease later.
    await this.#options.cluster?.leave().catch(() => {});
    return drained;
  }

  /**
   * Actors crashing in a loop ({@link CRASH_LOOP} crashes in a row or more). Actors waiting for KV
   * are not listed: the store's health says why. Cheap: no KV read.
   */
  get problems(): SupervisionProblem[] {
    return problemsOf(this.#active);
  }

  /** Queues with entries that no live node serves, as the last restore round saw them. */
  unserved(): UnservedQueue[] {
    return this.#unserved.list();
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
  status(id: string): Promise<ActorStatus | undefined> {
    return statusOf(this.#inspection, id);
  }

  /** Status of every known or active actor. */
  statuses(): Promise<ActorStatus[]> {
    return statusesOf(this.#inspection, (id) => this.status(id));
  }

  /** Runs an operator command on `id`, activating it first. */
  async command(
    id: string,
    command: ActorCommand,
    by: string,
    reason: string,
  ): Promise<CommandResult | undefined> {
    const actor = await this.get(id);
    return runCommand(this.#inspection, id, actor, command, by, reason);
  }

  /** Activates the actors of non-empty queues (and always-on ones) that belong here. */
  async #restore(): Promise<void> {
    const cluster = this.#options.cluster;
    const queued = await this.#options.store.nonEmptyQueues();
    // One read of every queue's depth tells each active actor whether KV holds what it does not
    // know of: a thousand actors no longer list their queues every poll period to learn it.
    for (const [id, a] of this.#active) a.actor.queueDepth?.(queued.get(id) ?? 0);
    if (cluster) this.#unserved.check(cluster, queued);
    await restoreActors(this.#restoreContext, queued);
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
  #loop(
    everyMs: number,
    fn: (lateMs: number) => Promise<void>,
    clock: Clock = this.#clock,
    onSleep?: (due: number) => void,
  ): Promise<void> {
    return runEvery({
      signal: this.#stopping.signal,
      everyMs,
      clock,
      onSleep,
      onError: (error) => {
        if (error instanceof StoreUnavailableError) this.#options.store.health.failed(error);
        else this.#options.log.warn("supervisor.background-failed", { error });
      },
    }, fn);
  }
}

/**
 * Lets `a` go as a handover does (a retire, a stop's drain): it sends nothing new, and stops at
 * once unless a message of its is on the wire, which it takes in first.
 */
function letGo(a: Activation): void {
  a.handingOver = true;
  a.actor.hold?.();
  if (!a.sending) a.abort.abort();
}
