/**
 * Warnings of queues no live node serves (see `supervisor.ts`): a queue with entries whose actor
 * no running node's config can build (`Cluster.served`) is warned of as `cluster.actor-unserved`
 * once it has gone unserved past a grace, and again every {@link UNSERVED_WARN_EVERY_MS} while it
 * lasts. Looked at by each restore round, never per message.
 * @module
 */

import type { Clock } from "./clock.ts";
import type { Cluster } from "./cluster.ts";
import type { SupervisorOptions } from "./supervisor_options.ts";

/** `cluster.actor-unserved` is repeated for one actor at most this often while it lasts. */
export const UNSERVED_WARN_EVERY_MS = 10 * 60_000;

/** The unserved queues seen so far, and when each was last warned of; see the module doc. */
export class UnservedWarnings {
  readonly #options: SupervisorOptions;
  readonly #clock: Clock;
  /** Queues no live node serves: since when (by `#clock`), and when last warned. */
  readonly #unserved = new Map<string, { since: number; warnedAt?: number }>();

  /**
   * Warnings through `options.log`, after `options.unservedGraceMs`, timed on `clock` (the
   * supervisor's lease clock).
   */
  constructor(options: SupervisorOptions, clock: Clock) {
    this.#options = options;
    this.#clock = clock;
  }

  /**
   * Warns (`cluster.actor-unserved`, once per actor, again every {@link UNSERVED_WARN_EVERY_MS}
   * while it lasts) of queues with entries that no live node serves past the grace: their
   * messages were accepted and stay queued until a node whose config builds the actor runs.
   * `queued`: the non-empty queues and their depths.
   */
  check(cluster: Cluster, queued: Map<string, number>): void {
    const now = this.#clock.monotonic();
    const grace = this.#options.unservedGraceMs ?? 10_000;
    for (const id of this.#unserved.keys()) {
      if (!queued.has(id) || cluster.served(id)) this.#unserved.delete(id);
    }
    for (const [id, depth] of queued) {
      if (cluster.served(id)) continue;
      let u = this.#unserved.get(id);
      if (!u) this.#unserved.set(id, u = { since: now });
      if (now - u.since < grace) continue;
      if (u.warnedAt !== undefined && now - u.warnedAt < UNSERVED_WARN_EVERY_MS) continue;
      u.warnedAt = now;
      this.#options.log.warn("cluster.actor-unserved", {
        actor: id,
        queued: depth,
        forMs: Math.round(now - u.since),
        live: cluster.liveIds,
        reason: "no running node's config has this actor (an MLLP listener port, a destination " +
          "or an integration it names): its queued messages wait until a node that has it runs",
        hint: "start a node whose config has it (or add it back to a running node's config)",
      });
    }
  }
}
