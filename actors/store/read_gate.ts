/**
 * A bound on how many actors read their queues back from KV at once.
 *
 * Deno KV's SQLite backend serves reads and commits one at a time, in the order they were issued
 * (denokv's `sqlite/lib.rs` takes them through a channel of one slot). When many actors read their
 * backlogs together, as after a restart with a thousand queues behind, every commit issued meanwhile
 * (an intake's ACK, a lease taken or renewed, a completion) waited for all the reads issued before
 * it: in `deno task bench mllp_delivery`, 1,000 actors with 20 messages each took 2.9–3.4 s to
 * restore and a one-row commit 220–300 ms (p99) while they read. Through the gate a commit waits
 * for the few batches under way instead: the same actors restore in 0.2–0.27 s and the commit
 * takes 40–90 ms (p99), for the same drain.
 *
 * @example
 * ```ts
 * import { ReadGate } from "./read_gate.ts";
 *
 * const gate = new ReadGate(4);
 * const batch = await gate.run(() => Promise.resolve(["entries", "records"]));
 * ```
 * @module
 */

/** Runs reads with at most `limit` under way, the others waiting their turn first come first. */
export class ReadGate {
  /** Reads that may be under way at once. */
  readonly limit: number;
  #running = 0;
  readonly #waiting: (() => void)[] = [];

  /** A gate letting `limit` reads (at least one) run at once. */
  constructor(limit: number) {
    if (!Number.isInteger(limit) || limit < 1) {
      throw new RangeError(`a read gate needs a limit of at least 1, not ${limit}`);
    }
    this.limit = limit;
  }

  /** Reads under way now. */
  get running(): number {
    return this.#running;
  }

  /** Reads waiting for a turn. */
  get waiting(): number {
    return this.#waiting.length;
  }

  /** Whether a read started now would wait. */
  get busy(): boolean {
    return this.#running >= this.limit;
  }

  /** Runs `read` once fewer than {@link limit} reads are under way; its turn ends as it settles. */
  async run<T>(read: () => Promise<T>): Promise<T> {
    if (this.#running >= this.limit) {
      // The slot is passed on by the read that ends (see finally), so `running` stays counted.
      await new Promise<void>((resolve) => this.#waiting.push(resolve));
    } else {
      this.#running++;
    }
    try {
      return await read();
    } finally {
      const next = this.#waiting.shift();
      if (next) next();
      else this.#running--;
    }
  }
}
