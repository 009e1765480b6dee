/**
 * Whether the engine's retention sweep may run, for its housekeeping tick: a forward clock step
 * the clock watch noticed, records stamped ahead of the clock, and a start far from when the engine
 * was last seen running (retentionHold in store/retention.ts); and the last-seen row that makes the
 * last one possible (store/last_seen.ts), kept by {@link RetentionGuard.seen}.
 * @module
 */

import type { Clock } from "../runtime/clock.ts";
import type { ClockWatch } from "../runtime/clock_watch.ts";
import type { Logger } from "../runtime/log.ts";
import {
  type Downtime,
  downtimeAtStart,
  downtimeWarning,
  readLastSeen,
  writeLastSeen,
} from "../store/last_seen.ts";
import {
  HOLD_AFTER_STEP_MS,
  HOLD_STEP_MS,
  type RetentionHold,
  retentionHold,
} from "../store/retention.ts";
import type { Store } from "../store/store.ts";

/** What a {@link RetentionGuard} watches. */
export interface RetentionGuardOptions {
  store: Store;
  clock: Clock;
  log: Logger;
  watch: ClockWatch;
}

/** See the module doc. One per engine run. */
export class RetentionGuard {
  readonly #o: RetentionGuardOptions;
  /** Monotonic time at {@link start}. */
  #started: number;
  /** The hold found at start, if any. */
  #downtime: Downtime | undefined;
  /** The last wall time seen with the sweep not held. */
  #trusted: number | undefined;
  /** Since when (wall) the sweep has been held, while it is. */
  #heldSince: number | undefined;
  #wasDown = false;

  /** Does nothing until {@link start}. */
  constructor(options: RetentionGuardOptions) {
    this.#o = options;
    this.#started = options.clock.monotonic();
  }

  /**
   * Reads the last-seen row: a wall clock over an hour from it, or a hold on at the last stop,
   * holds the sweep (24 h from when it began), said once with a WARN
   * (`retention.held-after-downtime`).
   */
  async start(): Promise<void> {
    const { clock, log, store } = this.#o;
    this.#started = clock.monotonic();
    const last = await readLastSeen(store);
    this.#trusted = last?.at;
    this.#downtime = downtimeAtStart(last, clock.now());
    if (this.#downtime) log.warn("retention.held-after-downtime", downtimeWarning(this.#downtime));
  }

  /**
   * Why the sweep must not run now, if it must not (a step made just now is noticed first, so
   * that its time is never written as a trusted one). Logs `retention.resumed` when the start's
   * hold ends.
   */
  async hold(): Promise<RetentionHold | undefined> {
    const { clock, log, store, watch } = this.#o;
    try {
      watch.check();
    } catch (error) {
      log.warn("clock.watch-failed", { error });
    }
    const step = watch.forwardStepWithin(HOLD_AFTER_STEP_MS, HOLD_STEP_MS);
    const down = this.#downtime;
    const hold = await retentionHold(store, {
      now: clock.now(),
      ...(step
        ? {
          forwardStep: {
            offsetMs: step.offsetMs,
            at: step.at,
            ageMs: clock.monotonic() - step.mono,
          },
        }
        : {}),
      ...(down
        ? {
          downtime: {
            ...down,
            ageMs: down.startedAt - down.since + clock.monotonic() - this.#started,
          },
        }
        : {}),
    });
    if (this.#wasDown && !hold) {
      log.info("retention.resumed", { heldSince: new Date(down!.since).toISOString() });
    }
    this.#wasDown = hold?.cause === "downtime";
    return hold;
  }

  /**
   * Writes the last-seen row: the time now while the sweep is not held; while it is, the last
   * time seen unheld stays and the hold is noted (see last_seen.ts).
   */
  seen(hold: RetentionHold | undefined): Promise<void> {
    const { clock, store } = this.#o;
    const now = clock.now();
    if (!hold) {
      this.#trusted = now;
      this.#heldSince = undefined;
      return writeLastSeen(store, { at: now });
    }
    this.#heldSince ??= hold.cause === "downtime" ? this.#downtime!.since : now;
    return writeLastSeen(store, {
      at: this.#trusted ?? this.#heldSince,
      held: { since: this.#heldSince, seen: now },
    });
  }
}
