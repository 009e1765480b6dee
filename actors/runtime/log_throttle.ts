/**
 * At most one log line per key and interval (or a few: {@link LogThrottleOptions.burst}), with the
 * count of events since the last line: a flood of refused connections, failed handshakes or
 * accept errors becomes a few lines, not one per event.
 *
 * Memory is bounded: at most {@link LogThrottleOptions.maxKeys} keys are tracked. When that many
 * keys all had a line within the interval (a flood from that many addresses), events under any
 * other key share one overflow entry: still at most one line per interval for all of them, its
 * count covering them all (the line names the key of the event it was written for; once there is
 * room again, the first line for a key not tracked carries what the shared entry held back). A
 * key whose interval passed may then be forgotten, with the count it held back since its last
 * line.
 * @module
 */

/**
 * The interval of the lines a client can repeat (README "Log lines a client can repeat"): per
 * event and key (an address, an integration), at most a burst of lines this often.
 */
export const REPEATABLE_LOG_INTERVAL_MS = 5_000;
/** Lines of one event per key and interval before they are only counted, for such lines. */
export const REPEATABLE_LOG_BURST = 20;

/** Options of a {@link LogThrottle}. */
export interface LogThrottleOptions {
  /**
   * Lines per key and interval before events are only counted (1): with more, a peer with an
   * occasional fault keeps a line for each, and a flood still writes no more than this.
   */
  burst?: number;
  /** Most keys tracked at once (10 000); see the module doc. */
  maxKeys?: number;
}

interface Entry {
  /** When the key's current interval began (its first line in it). */
  since: number;
  /** Lines written in the current interval. */
  lines: number;
  /** Events only counted since the last line. */
  held: number;
}

/** See the module doc. */
export class LogThrottle {
  readonly #intervalMs: number;
  readonly #now: () => number;
  readonly #burst: number;
  readonly #maxKeys: number;
  /** In the order their intervals began: the oldest first. */
  readonly #keys = new Map<string, Entry>();
  /** Shared by the keys beyond {@link LogThrottleOptions.maxKeys}. */
  readonly #overflow: Entry = { since: -Infinity, lines: 0, held: 0 };

  /** `now` is in milliseconds (a clock's `now`). */
  constructor(
    intervalMs: number,
    now: () => number = () => performance.now(),
    options: LogThrottleOptions = {},
  ) {
    this.#intervalMs = intervalMs;
    this.#now = now;
    this.#burst = Math.max(1, options.burst ?? 1);
    this.#maxKeys = Math.max(1, options.maxKeys ?? 10_000);
  }

  /** Keys tracked now (at most {@link LogThrottleOptions.maxKeys}). */
  get size(): number {
    return this.#keys.size;
  }

  /**
   * Counts one event under `key`. Returns how many events the line to log now stands for
   * (this one included, with those held back since the last line), or 0 when this event is only
   * counted.
   */
  note(key: string): number {
    const now = this.#now();
    let entry = this.#keys.get(key);
    let shared = false;
    if (!entry) {
      this.#evict(now);
      if (this.#keys.size >= this.#maxKeys) {
        entry = this.#overflow;
        shared = true;
      } else if (this.#overflow.held > 0 && now - this.#overflow.since >= this.#intervalMs) {
        // Room again, and the shared entry holds events back: this line is its line.
        const count = this.#overflow.held + 1;
        Object.assign(this.#overflow, { since: -Infinity, lines: 0, held: 0 });
        this.#keys.set(key, { since: now, lines: 1, held: 0 });
        return count;
      }
    }
    if (entry && now - entry.since < this.#intervalMs) {
      if (entry.lines < this.#burst) {
        entry.lines++;
        return 1;
      }
      entry.held++;
      return 0;
    }
    const count = (entry?.held ?? 0) + 1;
    if (shared) {
      Object.assign(this.#overflow, { since: now, lines: 1, held: 0 });
    } else {
      // Moved to the end: the map stays in the order the intervals began.
      this.#keys.delete(key);
      this.#keys.set(key, { since: now, lines: 1, held: 0 });
    }
    return count;
  }

  /** At the cap, forgets the keys whose interval passed, oldest first. */
  #evict(now: number): void {
    if (this.#keys.size < this.#maxKeys) return;
    for (const [key, entry] of this.#keys) {
      if (now - entry.since < this.#intervalMs) break;
      this.#keys.delete(key);
    }
  }
}
