/**
 * Time-ordered identifiers. Queue entries sort by them, so an actor that writes its queue in
 * order gets it back in order, without every writer contending on one counter key.
 * @module
 */

/** Makes ids that sort in creation order within this process, and roughly by time across them. */
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
   * in the store, in case the wall clock went backwards across a restart.
   */
  observe(id: string): void {
    const ms = parseInt(id.slice(0, 11), 36);
    if (Number.isFinite(ms) && ms > this.#last) {
      this.#last = ms;
      this.#counter = 0xfff_fff;
    }
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
