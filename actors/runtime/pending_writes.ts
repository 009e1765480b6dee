/**
 * Commits an actor lets run in the background while it goes on with its next message. The store's
 * group committer keeps them in the order they were issued; the actor waits for them before
 * anything that must see them (reading the next batch, recording a failure, an operator's skip).
 * @module
 */

/** How many background commits an actor may have before it waits for them. */
export interface PendingWritesOptions {
  /** Most commits one actor keeps in the background (what a crash may replay), default 8. */
  maxPending?: number;
  /** The store's count of writes waiting for a commit. */
  backlog(): number;
  /** Past this store backlog every actor waits for its own commits, default 256. */
  maxBacklog?: number;
}

/** See the module doc. */
export class PendingWrites {
  readonly #options: PendingWritesOptions;
  #pending: Promise<void>[] = [];

  /** Background commits bounded by `options`. */
  constructor(options: PendingWritesOptions) {
    this.#options = options;
  }

  /** Commits not yet known to be durable. */
  get size(): number {
    return this.#pending.length;
  }

  /**
   * Adds a commit; waits for all of them when this actor or the store is too far ahead. Many busy
   * actors must not run ahead of durability, nor delay new accepts behind their completions.
   */
  async add(work: Promise<unknown>): Promise<void> {
    const done = work.then(() => undefined);
    // The promise kept is observed at once, so a KV error is reported by settle() (or dropped
    // with the actor), never as an unhandled rejection that ends the process.
    done.catch(() => {});
    this.#pending.push(done);
    if (
      this.#pending.length >= (this.#options.maxPending ?? 8) ||
      this.#options.backlog() > (this.#options.maxBacklog ?? 256)
    ) await this.settle();
  }

  /** Waits for every commit so far; rethrows a KV error so the supervisor restarts the actor. */
  async settle(): Promise<void> {
    while (this.#pending.length > 0) {
      const pending = this.#pending;
      this.#pending = [];
      await Promise.all(pending);
    }
  }
}
