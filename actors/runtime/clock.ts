/**
 * Time as actors see it: injectable, so the 2-hour idle close and the retry schedule are tested by
 * moving a clock, not by waiting.
 * @module
 */

/**
 * What actors need of time. Two readings: {@link Clock.now} is the wall clock (timestamps written
 * to records and logs), which an NTP step or `date -s` moves at once by any amount, either way;
 * {@link Clock.monotonic} only ever advances at the real rate, and every duration, deadline, idle
 * period and cache age is measured on it.
 */
export interface Clock {
  /** Milliseconds since the epoch (wall clock: for timestamps, never for durations). */
  now(): number;
  /**
   * Milliseconds on a clock that never steps (an arbitrary origin): for durations and deadlines
   * only. Cheap: no allocation.
   */
  monotonic(): number;
  /** Resolves after `ms`, or early (without rejecting) when `signal` aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/** The real clock. */
export const systemClock: Clock = {
  now: () => Date.now(),
  monotonic: () => performance.now(),
  sleep: (ms, signal) =>
    new Promise<void>((resolve) => {
      if (signal?.aborted) return resolve();
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, ms));
      signal?.addEventListener("abort", done, { once: true });
    }),
};

interface Sleeper {
  at: number;
  resolve(): void;
}

/**
 * A clock that moves only when told to: `advance(ms)` moves both readings and wakes the sleepers
 * whose time has come; `stepWall(ms)` moves the wall clock alone (an NTP step), as a real step
 * wakes no timer.
 */
export class ManualClock implements Clock {
  /** The monotonic reading; it starts equal to the wall reading. */
  #now: number;
  /** Wall minus monotonic: changed only by {@link stepWall}. */
  #wallOffset = 0;
  #sleepers: Sleeper[] = [];

  /** Starts at `start` ms since the epoch (both readings). */
  constructor(start = Date.UTC(2026, 0, 1)) {
    this.#now = start;
  }

  /** The current fake wall time. */
  now(): number {
    return this.#now + this.#wallOffset;
  }

  /** The current fake monotonic time (equal to {@link now} until the wall clock is stepped). */
  monotonic(): number {
    return this.#now;
  }

  /** Steps the wall clock by `ms` (negative: back) without moving monotonic time or waking anyone. */
  stepWall(ms: number): void {
    this.#wallOffset += ms;
  }

  /** Sleeps until `advance` passes `monotonic() + ms`, or `signal` aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (signal?.aborted) return resolve();
      const sleeper: Sleeper = {
        at: this.#now + Math.max(0, ms),
        resolve: () => {
          this.#sleepers = this.#sleepers.filter((s) => s !== sleeper);
          signal?.removeEventListener("abort", sleeper.resolve);
          resolve();
        },
      };
      this.#sleepers.push(sleeper);
      signal?.addEventListener("abort", sleeper.resolve, { once: true });
    });
  }

  /** How many sleeps are pending (tests wait for an actor to settle into one). */
  get pending(): number {
    return this.#sleepers.length;
  }

  /** The earliest wake-up time pending (monotonic), if any. */
  get nextWake(): number | undefined {
    return this.#sleepers.reduce<number | undefined>(
      (m, s) => (m === undefined || s.at < m ? s.at : m),
      undefined,
    );
  }

  /** Moves time forward and wakes every sleeper that is due. */
  advance(ms: number): void {
    this.#now += ms;
    for (const s of [...this.#sleepers]) if (s.at <= this.#now) s.resolve();
  }
}
