/**
 * MLLP destinations moved to another address by a config reload. The queue of the old address is
 * merged into the queue of the new one (its entries keep their keys, so the merged queue is in the
 * order the messages were routed), and one actor — the new address's — delivers it. Any sequence
 * of moves (A→B, B→A, A→B→C) therefore ends with one queue and one actor per destination, at the
 * address the running config names.
 *
 * While a move runs, the queues it reads and writes are held: the actor factory makes no actor
 * for them (see {@link QueueMoves.held}); their actors are retired first, after their message in
 * flight, and woken after. Every moved destination's new queue is held, whatever the old queue
 * holds at the reload: a message routed under the old config may still be on its way to the old
 * queue (its route read the config before the swap and has not committed yet). The move waits
 * for those routes (config_holder.ts counts them; at most `drainMs`, then a WARN
 * `config.move-waited` and the move goes on), moves the old queue once, and only then lets the new
 * address's actor start: nothing routed after the reload is delivered before them. An old address
 * stays watched: a message another process on the same KV (not yet reloaded) routes to it later
 * is moved on too. Entries that have nowhere to go (their destination is no longer an MLLP
 * destination of the config) are logged as an ERROR (`config.queue-stranded`), never left
 * silently.
 * @module
 */

import type { Config } from "../config/mod.ts";
import type { RoutesInProgress } from "./config_holder.ts";
import type { Clock } from "../runtime/clock.ts";
import type { Logger } from "../runtime/log.ts";
import type { Store } from "../store/store.ts";
import type { QueueEntry } from "../store/types.ts";
import { destinationActorId } from "./identities.ts";

/** What {@link QueueMoves} works with. */
export interface QueueMovesOptions {
  store: Store;
  log: Logger;
  clock: Clock;
  /** How often watched old queues are looked at. */
  pollMs: number;
  /**
   * How long a move waits for the routes begun under the replaced config to commit before it
   * moves the old queue all the same (WARN `config.move-waited`). Default 10,000.
   */
  drainMs?: number;
  /** The running config. */
  config: () => Config;
  /** Stops an actor after its message in flight; wakes one. */
  actors: () =>
    | { retire(id: string): Promise<boolean>; notify(id: string): void; activeIds: string[] }
    | undefined;
}

/** The moves one reload makes: old queue → the destination ids leaving it. */
export type MovePlan = Map<string, Set<string>>;

/** The queue of MLLP destination `id` in `c`, if it has one. */
function mllpQueue(c: Config, id: string | undefined): string | undefined {
  const d = id === undefined ? undefined : c.destinations.find((x) => x.id === id);
  return d?.mllp ? destinationActorId(d) : undefined;
}

/** See the module doc. */
export class QueueMoves {
  /** Queues the actor factory must not start now: a move into or out of them is under way. */
  readonly held: Set<string> = new Set();
  readonly #o: QueueMovesOptions;
  /** Old addresses' queues, moved on whenever entries land in them. */
  readonly #watched = new Set<string>();
  /** Each watched queue's stranded count last logged (logged again only when it changes). */
  readonly #stranded = new Map<string, number>();
  #chain: Promise<unknown> = Promise.resolve();

  /** Moves for `options`' engine. */
  constructor(options: QueueMovesOptions) {
    this.#o = options;
  }

  /**
   * Before `next` is swapped in: the queues whose destinations `next` puts at another address,
   * held, empty or not (no actor starts for them, nor for the queues they move to, until
   * {@link apply}).
   */
  plan(running: Config, next: Config): MovePlan {
    const plan: MovePlan = new Map();
    const add = (from: string, id: string) => plan.set(from, (plan.get(from) ?? new Set()).add(id));
    for (const d of running.destinations) {
      if (!d.mllp) continue;
      const from = destinationActorId(d);
      const to = mllpQueue(next, d.id);
      if (to !== undefined && to !== from) add(from, d.id);
    }
    for (const [from, ids] of plan) {
      // Empty now or not: a route begun under `running` may still commit into it.
      this.held.add(from);
      for (const id of ids) this.held.add(mllpQueue(next, id)!);
    }
    return plan;
  }

  /**
   * After the swap: runs `plan` (see the module doc) once `before`, the routes begun under the
   * replaced config, have committed; returns what was done, one line each.
   */
  apply(plan: MovePlan, before?: RoutesInProgress): Promise<string[]> {
    const run = this.#chain.then(() => this.#apply(plan, before));
    this.#chain = run.catch(() => {});
    return run;
  }

  async #apply(plan: MovePlan, before: RoutesInProgress | undefined): Promise<string[]> {
    const actors = this.#o.actors();
    const config = this.#o.config();
    const applied: string[] = [];
    const woken = new Set(this.held);
    try {
      for (const id of this.held) await actors?.retire(id);
      if (plan.size > 0 && before) await this.#drained(before, plan);
      for (const [from, ids] of plan) {
        for (const id of ids) applied.push(`moved ${from} to ${mllpQueue(config, id)}`);
        await this.#move(from);
      }
    } finally {
      this.held.clear();
      for (const id of woken) actors?.notify(id);
      for (const q of plan.keys()) this.#watched.add(q);
    }
    // An address the running config names again is delivered by its own actor.
    const current = new Set(
      config.destinations.flatMap((d) => d.mllp ? [destinationActorId(d)] : []),
    );
    for (const q of this.#watched) if (current.has(q)) this.#watched.delete(q);
    return applied;
  }

  /**
   * Waits for the routes begun under the replaced config to commit (into the old queues), at most
   * `drainMs`; past it, says what is still under way and lets the move go on.
   */
  async #drained(routes: RoutesInProgress, plan: MovePlan): Promise<void> {
    if (routes.count === 0) return;
    const { clock, log } = this.#o;
    const limit = this.#o.drainMs ?? 10_000;
    const start = clock.monotonic();
    const timer = new AbortController();
    let idle = false;
    await Promise.race([
      routes.idle().then(() => {
        idle = true;
      }),
      clock.sleep(limit, timer.signal),
    ]);
    timer.abort();
    if (idle) return;
    log.warn("config.move-waited", {
      routes: routes.count,
      waitedMs: Math.round(clock.monotonic() - start),
      queues: [...plan.keys()],
      reason: `${routes.count} route(s) begun under the previous config had not committed after ` +
        `${limit} ms; the old queues are moved now, and a message those routes commit later is ` +
        "moved by the watcher, possibly after newer ones",
    });
  }

  /** Moves what `from` holds for destinations now elsewhere; logs what it moved and what it could not. */
  async #move(from: string): Promise<void> {
    const { store, log } = this.#o;
    const config = this.#o.config();
    const current = config.destinations.some((d) => d.mllp && destinationActorId(d) === from);
    try {
      const result = await store.moveQueue(from, (e: QueueEntry) => {
        const to = mllpQueue(config, e.destinationId);
        return to === from ? undefined : to;
      });
      for (const [to, messages] of result.moved) {
        log.info("config.queue-moved", { from, to, messages });
        this.#o.actors()?.notify(to);
      }
      // Left in a queue no actor delivers: say so (once per count).
      const left = current ? 0 : result.left;
      if (left > 0 && this.#stranded.get(from) !== left) {
        log.error("config.queue-stranded", {
          queue: from,
          messages: left,
          reason:
            "their destination is not an MLLP destination of the running config: put it back, or skip them",
        });
      }
      if (left === 0) this.#stranded.delete(from);
      else this.#stranded.set(from, left);
    } catch (error) {
      log.error("config.queue-move-failed", { from, error });
    }
  }

  /** Looks at the watched old queues every poll period until `signal` (the engine stops). */
  async watch(signal: AbortSignal): Promise<void> {
    const { store, clock, pollMs, log } = this.#o;
    while (!signal.aborted) {
      await clock.sleep(Math.max(pollMs, 50), signal);
      for (const q of [...this.#watched]) {
        if (signal.aborted) return;
        try {
          // An old queue whose actor still runs (a reload under way): not moved under it.
          if (this.#o.actors()?.activeIds.includes(q) || await store.depth(q) === 0) continue;
          // In turn with a reload's moves.
          const run = this.#chain.then(() => this.#move(q));
          this.#chain = run.catch(() => {});
          await run;
        } catch (error) {
          log.warn("config.move-check-failed", { from: q, error });
        }
      }
    }
  }
}
