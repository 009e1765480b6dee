/**
 * Queues no live node serves (see `supervisor.ts`): a queue with entries whose actor no running
 * node's config can build (`Cluster.served`) is warned of as `cluster.actor-unserved` once it has
 * gone unserved past a grace, and again every {@link UNSERVED_WARN_EVERY_MS} while it lasts. The
 * set seen by the last look is kept for operators ({@link UnservedWarnings.list}: `GET
 * /admin/actors`, `/metrics`, the console), since such a queue has no actor anywhere to list.
 * Looked at by each restore round, never per message.
 * @module
 */

import type { Clock } from "./clock.ts";
import type { Cluster } from "./cluster.ts";
import type { SupervisorOptions } from "./supervisor_options.ts";

/** `cluster.actor-unserved` is repeated for one actor at most this often while it lasts. */
export const UNSERVED_WARN_EVERY_MS = 10 * 60_000;

/** Why an unserved queue waits, as `cluster.actor-unserved` and every listing of it say. */
export const UNSERVED_REASON = "no running node's config has this actor (an MLLP listener " +
  "port, a destination or an integration it names): its queued messages wait until a node " +
  "that has it runs";

/** What an operator does about an unserved queue, as the log line and the listings say. */
export const UNSERVED_HINT =
  "start a node whose config has it (or add it back to a running node's config)";

/** A queue with entries that no live node serves, as the last restore round saw it. */
export interface UnservedQueue {
  /** The actor (queue) id. */
  actor: string;
  /** Entries waiting in it at the last look. */
  queued: number;
  /** When it was first seen unserved (wall clock, ms since the epoch). */
  since: number;
  /** How long it has been unserved (monotonic, ms). */
  forMs: number;
  /** Unserved longer than the grace (`SupervisorOptions.unservedGraceMs`): not a passing handover. */
  pastGrace: boolean;
  /** `cluster.actor-unserved` was logged for it. */
  warned: boolean;
  /** Why it waits (the log line's `reason`). */
  reason: string;
  /** What to do (the log line's `hint`). */
  hint: string;
}

/** One unserved queue's state between looks. */
interface Seen {
  /** First seen unserved, by the lease clock's monotonic reading and by its wall clock. */
  since: number;
  sinceWall: number;
  queued: number;
  warnedAt?: number;
}

/** The unserved queues seen by the last look, and when each was last warned of; see the module doc. */
export class UnservedWarnings {
  readonly #options: SupervisorOptions;
  readonly #clock: Clock;
  /** Queues no live node serves, in the order first seen. */
  readonly #unserved = new Map<string, Seen>();

  /**
   * Warnings through `options.log`, after `options.unservedGraceMs`, timed on `clock` (the
   * supervisor's lease clock).
   */
  constructor(options: SupervisorOptions, clock: Clock) {
    this.#options = options;
    this.#clock = clock;
  }

  get #graceMs(): number {
    return this.#options.unservedGraceMs ?? 10_000;
  }

  /**
   * Warns (`cluster.actor-unserved`, once per actor, again every {@link UNSERVED_WARN_EVERY_MS}
   * while it lasts) of queues with entries that no live node serves past the grace: their
   * messages were accepted and stay queued until a node whose config builds the actor runs.
   * `queued`: the non-empty queues and their depths. What it saw is kept for {@link list}.
   */
  check(cluster: Cluster, queued: Map<string, number>): void {
    const now = this.#clock.monotonic();
    const grace = this.#graceMs;
    for (const id of this.#unserved.keys()) {
      if (!queued.has(id) || cluster.served(id)) this.#unserved.delete(id);
    }
    for (const [id, depth] of queued) {
      if (cluster.served(id)) continue;
      let u = this.#unserved.get(id);
      if (!u) {
        this.#unserved.set(id, u = { since: now, sinceWall: this.#clock.now(), queued: depth });
      }
      u.queued = depth;
      if (now - u.since < grace) continue;
      if (u.warnedAt !== undefined && now - u.warnedAt < UNSERVED_WARN_EVERY_MS) continue;
      u.warnedAt = now;
      this.#options.log.warn("cluster.actor-unserved", {
        actor: id,
        queued: depth,
        forMs: Math.round(now - u.since),
        live: cluster.liveIds,
        reason: UNSERVED_REASON,
        hint: UNSERVED_HINT,
      });
    }
  }

  /**
   * The queues with entries that no live node served at the last look, in the order first seen
   * (their depths as of that look; `forMs` and `pastGrace` as of now). Empty without a cluster
   * (nothing is looked at).
   */
  list(): UnservedQueue[] {
    const now = this.#clock.monotonic();
    const grace = this.#graceMs;
    return [...this.#unserved].map(([actor, u]) => ({
      actor,
      queued: u.queued,
      since: u.sinceWall,
      forMs: Math.max(0, Math.round(now - u.since)),
      pastGrace: now - u.since >= grace,
      warned: u.warnedAt !== undefined,
      reason: UNSERVED_REASON,
      hint: UNSERVED_HINT,
    }));
  }
}
