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
}
