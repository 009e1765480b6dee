/**
 * Time-ordered identifiers. Queue entries sort by them, so an actor that writes its queue in
 * order gets it back in order, without every writer contending on one counter key.
 * @module
 */

/**
 * Makes ids that sort in creation order within this process, and roughly by time across them.
 * Across the nodes of a cluster the heartbeat keeps them ordered despite skewed clocks: each node
 * {@link observe}s the newest id of every other at each heartbeat read, so its ids never sort
 * before one another node made more than a heartbeat ago.
 */
export class IdGenerator {
  #last = 0;
  #counter = 0;
  #prefixOf = -1;
  #prefix = "";
  readonly #suffix: string;

  /** `node` tells apart ids made in the same millisecond by different processes. */
  constructor(node: string, floor = 0) {
    this.#suffix = node.replace(/[^A-Za-z0-9]/g, "").slice(0, 12) || "n";
    this.#last = floor;
  }

  /**
   * Raises the clock floor so later ids sort after `id`: used at start with the highest id found
   * in the store, in case the wall clock went backwards across a restart, and at each heartbeat
   * with the newest id of every other node (their clocks may be ahead of this one's).
   */
  observe(id: string): void {
    const ms = parseInt(id.slice(0, 11), 36);
    if (!Number.isFinite(ms) || ms < this.#last) return;
    // The counter too: ids of the same millisecond sort by it before the node part.
    const parsed = parseInt(id.slice(11, 16), 36);
    const counter = Number.isFinite(parsed) && id.length > 16 ? parsed : 0xfff_fff;
    if (ms > this.#last || counter >= this.#counter) {
      this.#last = ms;
      this.#counter = counter;
    }
  }

  /**
   * The newest id made (or observed) so far, undefined before any: what the heartbeat carries.
   * Computed on demand; nothing is kept per id.
   */
  newest(): string | undefined {
    if (this.#last === 0) return undefined;
    const counter = Math.min(this.#counter, 36 ** 5 - 1);
    return this.#last.toString(36).padStart(11, "0") + counter.toString(36).padStart(5, "0") +
      this.#suffix;
  }

  /** A new id: 11 base-36 digits of milliseconds, 5 of counter, then the node. */
  next(now: number = Date.now()): string {
    if (now > this.#last) {
      this.#last = now;
      this.#counter = 0;
    } else if (++this.#counter > 36 ** 5 - 1) {
      this.#last++;
      this.#counter = 0;
    }
    // Several ids are made per millisecond under load: its digits are formatted once.
    if (this.#prefixOf !== this.#last) {
      this.#prefixOf = this.#last;
      this.#prefix = this.#last.toString(36).padStart(11, "0");
    }
    return this.#prefix + this.#counter.toString(36).padStart(5, "0") + this.#suffix;
  }
}

/** The creation time (ms since epoch) encoded in an id made by {@link IdGenerator}. */
export function idTime(id: string): number {
  return parseInt(id.slice(0, 11), 36);
}

/** The smallest id that any id made at or after `ms` sorts after: for time-range scans. */
export function idFloor(ms: number): string {
  return Math.max(0, Math.floor(ms)).toString(36).padStart(11, "0");
}
