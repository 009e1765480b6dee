/**
 * What the supervisor last told an actor of its queue's depth (see `Actor.queueDepth`), and
 * whether that still stands. While it does, an actor that knows its queue in memory looks at KV
 * only when the depth says there is more, and on its own once in {@link OWN_LOOK_EVERY} poll
 * periods (a writer that does not keep the depth is found then); untold, every poll period.
 *
 * @example
 * ```ts
 * import { ToldDepth } from "./told_depth.ts";
 *
 * const told = new ToldDepth();
 * told.lookEvery(0, 1000); // 1000: never told, a look every poll period
 * told.told(0);
 * told.lookEvery(500, 1000); // 30000
 * told.idleSleep(500, 1000, 0, 12_000); // 11500: until the earliest of its look and 12 s
 * ```
 * @module
 */

/** Poll periods between an actor's own looks at its KV queue while it is told the depth. */
export const OWN_LOOK_EVERY = 30;
/** Poll periods without a depth from the supervisor after which the telling no longer stands. */
export const TOLD_FOR = 3;

/** See the module doc. */
export class ToldDepth {
  #at: number | undefined;

  /** A depth was told at monotonic time `mono` (ms). */
  told(mono: number): void {
    this.#at = mono;
  }

  /** How long (ms) an actor goes between its own looks at KV, at monotonic time `mono`. */
  lookEvery(mono: number, pollMs: number): number {
    const standing = this.#at !== undefined && mono - this.#at <= pollMs * TOLD_FOR;
    return standing ? pollMs * OWN_LOOK_EVERY : pollMs;
  }

  /**
   * How long (ms) an idle actor sleeps unless woken (a message, a depth saying KV holds more, a
   * command, a stop), at monotonic time `mono`, having last looked at KV at `lastLook`. Untold, one
   * poll period (it looks every period). Told, nothing is due before its own look or the earliest
   * of `due` (its connection's idle close, its deactivation; monotonic ms), so it sleeps until
   * then: with a thousand idle destinations, a wake-up a poll period each was most of an idle
   * engine's CPU. Should the telling stop, the actor finds that when it wakes and looks every
   * period again.
   */
  idleSleep(
    mono: number,
    pollMs: number,
    lastLook: number,
    ...due: (number | undefined)[]
  ): number {
    const every = this.lookEvery(mono, pollMs);
    if (every === pollMs) return pollMs;
    let until = lastLook + every;
    for (const at of due) if (at !== undefined && at < until) until = at;
    // Each of these is done by the time the actor sleeps (the look made, the idle connection
    // closed, the actor ended): at least a millisecond, so that no slip can make a spin of it.
    return Math.max(1, until - mono);
  }
}
