/**
 * How long the bench's own event loop was held up, from a 10 ms timer.
 * @module
 */

import { round } from "./latency.ts";

/**
 * The longest delay of this process's event loop since the last `take()`, from a 10 ms timer. The
 * receiver and the probe run in the bench's process: when a probe's p99 jumps, a jump here too
 * says the measuring side or the machine stalled, not the engine alone.
 *
 * @example
 * ```ts
 * const lag = new LagMonitor();
 * // … a run …
 * const { ms, atS } = lag.takeWithTime();
 * console.log(`bench lag max ${ms} ms, at ${atS} s`);
 * lag.stop();
 * ```
 */
export class LagMonitor {
  readonly #start = performance.now();
  #last = this.#start;
  #max = 0;
  #maxAt = NaN;
  readonly #timer = setInterval(() => {
    const now = performance.now();
    const late = now - this.#last - 10;
    if (late > this.#max) {
      this.#max = late;
      this.#maxAt = now;
    }
    this.#last = now;
  }, 10);

  /** The longest delay since the last call, in ms; starts the next span. */
  take(): number {
    return this.takeWithTime().ms;
  }

  /** As {@link take}, with when it ended, in seconds after the monitor started (NaN if none). */
  takeWithTime(): { ms: number; atS: number } {
    const taken = {
      ms: round(Math.max(0, this.#max), 1),
      atS: round((this.#maxAt - this.#start) / 1000, 2),
    };
    this.#max = 0;
    this.#maxAt = NaN;
    return taken;
  }

  /** Stops the timer. */
  stop(): void {
    clearInterval(this.#timer);
  }
}
