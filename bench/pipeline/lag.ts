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
 * console.log(`bench lag max ${lag.take()} ms`);
 * lag.stop();
 * ```
 */
export class LagMonitor {
  #last = performance.now();
  #max = 0;
  readonly #timer = setInterval(() => {
    const now = performance.now();
    this.#max = Math.max(this.#max, now - this.#last - 10);
    this.#last = now;
  }, 10);

  /** The longest delay since the last call, in ms; starts the next span. */
  take(): number {
    const max = this.#max;
    this.#max = 0;
    return round(Math.max(0, max), 1);
  }

  /** Stops the timer. */
  stop(): void {
    clearInterval(this.#timer);
  }
}
