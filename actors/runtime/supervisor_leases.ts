/**
 * The supervisor's side of leases (see `supervisor.ts`): renewing every held lease on a timer,
 * fencing (stopping at once every actor whose lease is no longer certainly held, with one
 * `actor.lease-expired` line for them all), and checking one lease in KV before a crashed actor
 * is restarted. Nothing here runs per message: `Supervisor.beginSend` calls
 * {@link LeaseKeeper.fenceNow} only once it has found a lease lapsed.
 * @module
 */

import type { Clock } from "./clock.ts";
import type { Leases } from "../store/leases.ts";
import type { Activation, SupervisorOptions } from "./supervisor_options.ts";

/** Actors named on one `actor.lease-expired` line; the rest are counted. */
export const LEASE_EXPIRED_LISTED = 10;

/** Renewal and fencing of the leases of a supervisor's activations; see the module doc. */
export class LeaseKeeper {
  readonly #options: SupervisorOptions;
  readonly #active: ReadonlyMap<string, Activation>;
  /** The clock the leases age on (see {@link SupervisorOptions.leaseClock}). */
  readonly #leaseClock: Clock;
  /** When the last renewal of every held lease that went through began, by `#leaseClock`. */
  #renewedAt: number | undefined;
  /** How late the renewal loop's timer fired last (the process not running meanwhile). */
  #renewLateMs = 0;
  /** When the fencing loop is due to wake next, by `#leaseClock`. */
  #fenceDueAt: number | undefined;

  /**
   * Keeps the leases of the activations in `active` (the supervisor's own map, read as it
   * changes), through `options.leases`, aged on `leaseClock`.
   */
  constructor(
    options: SupervisorOptions,
    active: ReadonlyMap<string, Activation>,
    leaseClock: Clock,
  ) {
    this.#options = options;
    this.#active = active;
    this.#leaseClock = leaseClock;
  }

  /** Leases taken from now on are renewed: the renewal clock starts now. */
  started(): void {
    this.#renewedAt = this.#leaseClock.monotonic();
  }

  /** The fencing loop's next wake-up is due at `due` (by the lease clock). */
  fenceDue(due: number): void {
    this.#fenceDueAt = due;
  }

  /** Renews every active actor's lease; stops those whose renewal was refused (lost). */
  async renew(lateMs: number): Promise<void> {
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
   * The fencing loop's look, now, before its next wake-up (a send found a lease lapsed: the
   * process just ran again after a pause), late by how far past that wake-up it is.
   */
  fenceNow(): void {
    const due = this.#fenceDueAt;
    void this.fenceExpired(due === undefined ? 0 : this.#leaseClock.monotonic() - due);
  }

  /**
   * Stops at once every actor whose lease is no longer certainly held (fencing), with one
   * `actor.lease-expired` line for them all: how many, the first {@link LEASE_EXPIRED_LISTED},
   * how long since the last renewal, and whether the process itself did not run meanwhile (a
   * lease loop's timer `lateMs` late by a renewal period or more: that alone lapses a lease).
   */
  fenceExpired(lateMs: number): Promise<void> {
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
      // A renewal round that went through recently but did not renew these leases (their own
      // renewal failed, or they were not held any more) is not "not renewed for <that round> ms".
      reason: (since !== undefined && since < leases.stopAfterMs
        ? `not renewed by the last renewal round (${since} ms ago, it did not renew ` +
          `${expired.length === 1 ? "this lease" : "these leases"})`
        : `not renewed${since === undefined ? "" : ` for ${since} ms`}`) +
        `, past the ${leases.stopAfterMs} ms a lease may go unrenewed` +
        (paused
          ? `: the process did not run for ${stalled} ms (paused, or its event loop blocked)`
          : ""),
    });
    this.#renewLateMs = 0;
    return Promise.resolve();
  }
}

/** Renews `id`'s lease now: false when it is lost (the renewal was refused) or lapsed. */
export async function stillHeld(id: string, leases: Leases): Promise<boolean> {
  try {
    if ((await leases.renew([id])).length > 0) return false;
  } catch {
    // KV unreachable: the lease ages, and `valid` says when it may no longer be trusted.
  }
  return leases.valid(id);
}
