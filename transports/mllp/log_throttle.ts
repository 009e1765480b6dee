/**
 * At most one log line per key and interval, with the count of events since the last line: a
 * flood of refused connections or accept errors becomes a few lines, not one per event.
 * @module
 */

/** See the module doc. */
export class LogThrottle {
  readonly #intervalMs: number;
  readonly #now: () => number;
  readonly #keys = new Map<string, { lastAt: number; count: number }>();

  /** `now` is in milliseconds (a clock's `now`). */
  constructor(intervalMs: number, now: () => number = () => performance.now()) {
    this.#intervalMs = intervalMs;
    this.#now = now;
  }

  /**
   * Counts one event under `key`. Returns how many events the line to log now stands for
   * (this one included), or 0 when this event is only counted.
   */
  note(key: string): number {
    const now = this.#now();
    const entry = this.#keys.get(key);
    if (entry && now - entry.lastAt < this.#intervalMs) {
      entry.count++;
      return 0;
    }
    const count = (entry?.count ?? 0) + 1;
    this.#keys.set(key, { lastAt: now, count: 0 });
    // Keys of peers that went quiet long ago would otherwise accumulate forever.
    if (this.#keys.size > 10_000) this.#prune(now);
    return count;
  }

  #prune(now: number): void {
    for (const [key, entry] of this.#keys) {
      if (now - entry.lastAt >= this.#intervalMs && entry.count === 0) this.#keys.delete(key);
    }
  }
}
