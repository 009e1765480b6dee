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
  /** Oldest first; an entry is `done` once its commit settled (and stays until pruned). */
  #pending: { done: boolean; promise: Promise<void> }[] = [];
  /** A commit that failed, reported by the next {@link add} or {@link settle}. */
  #failure: { error: unknown } | undefined;

  /** Background commits bounded by `options`. */
  constructor(options: PendingWritesOptions) {
    this.#options = options;
  }

  /** Commits not yet known to be durable. */
  get size(): number {
    this.#prune();
    return this.#pending.length;
  }

  /**
   * Adds a commit. When this actor has `maxPending` in the background it waits for its oldest
   * one (a sliding window: commits land in the order issued, so the actor goes on as soon as one
   * does instead of waiting for all); when the store is too far behind it waits for all of them.
   * Many busy actors must not run ahead of durability, nor delay new accepts behind their
   * completions. Rethrows the failure of an earlier commit.
   */
  async add(work: Promise<unknown>): Promise<void> {
    const entry = { done: false, promise: Promise.resolve() };
    entry.promise = work.then(
      () => {
        entry.done = true;
      },
      (error) => {
        entry.done = true;
        // Kept (the first one) for add/settle to rethrow; observed here, so a KV error is never
        // an unhandled rejection that ends the process.
        this.#failure ??= { error };
      },
    );
    this.#pending.push(entry);
    this.#throwFailure();
    if (this.#options.backlog() > (this.#options.maxBacklog ?? 256)) {
      await this.settle();
      return;
    }
    const max = this.#options.maxPending ?? 8;
    this.#prune();
    while (this.#pending.length >= max) {
      await this.#pending[0]!.promise;
      this.#prune();
      this.#throwFailure();
    }
  }

  /** Waits for every commit so far; rethrows a KV error so the supervisor restarts the actor. */
  async settle(): Promise<void> {
    while (this.#pending.length > 0) {
      const pending = this.#pending;
      this.#pending = [];
      await Promise.all(pending.map((p) => p.promise));
    }
    this.#throwFailure();
  }

  #prune(): void {
    let i = 0;
    while (i < this.#pending.length && this.#pending[i]!.done) i++;
    if (i > 0) this.#pending.splice(0, i);
  }

  #throwFailure(): void {
    const failure = this.#failure;
    if (!failure) return;
    this.#failure = undefined;
    throw failure.error;
  }
}
