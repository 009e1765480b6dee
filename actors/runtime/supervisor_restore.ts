/**
 * Restoring actors (see `supervisor.ts`): at start, at each poll and after a membership change,
 * every actor whose queue holds messages (or that is always on) and belongs to this node is
 * activated. With leases, they are taken a batch per commit, several commits side by side, so a
 * takeover or a restart that finds hundreds of actors waiting starts the last soon after the
 * first.
 * @module
 */

import type { Actor } from "./actor.ts";
import { ACQUIRE_BATCH } from "../store/leases.ts";
import type { Activation, SupervisorOptions } from "./supervisor_options.ts";

/**
 * Lease commits {@link restoreActors} has in flight side by side when restoring non-empty queues
 * (each takes up to {@link ACQUIRE_BATCH} leases): enough to hide a remote KV's round trips,
 * few enough not to crowd out the commits of the actors already running.
 */
const RESTORE_PARALLEL = 20;

/** What {@link restoreActors} needs of the supervisor. */
export interface RestoreContext {
  /** The supervisor's options (factory, cluster, leases, always-on actors). */
  readonly options: SupervisorOptions;
  /** The active actors, as they change. */
  readonly active: ReadonlyMap<string, Activation>;
  /** Aborted when the supervisor stops: no more leases are taken. */
  readonly stopping: AbortSignal;
  /** Activates one actor (taking its lease on its own): used without leases. */
  activate(id: string): Promise<boolean>;
  /** Runs `actor` as `id`, whose lease this node has just taken. */
  begin(id: string, actor: Actor): void;
}

/**
 * Activates every actor of `queued` (the non-empty queues) and of the always-on ones that is not
 * active and belongs to this node; with leases, in batches (see the module doc).
 */
export async function restoreActors(
  ctx: RestoreContext,
  queued: Map<string, number>,
): Promise<void> {
  const { options, active, stopping } = ctx;
  const cluster = options.cluster;
  const ids = [
    ...queued.keys(),
    ...options.alwaysOn?.() ?? [],
  ];
  const waiting = [...new Set(ids)].filter((id) =>
    !active.has(id) && (!cluster || cluster.isMine(id))
  );
  const leases = options.leases;
  if (!leases) {
    await Promise.all(waiting.map((id) => ctx.activate(id)));
    return;
  }
  const actors = new Map<string, Actor>();
  for (const id of waiting) {
    const actor = options.factory(id);
    if (actor) actors.set(id, actor);
  }
  // A takeover (a node died) or a restart finds hundreds of actors waiting: their leases are
  // taken a batch per commit, several commits side by side. One lease per commit, the last of
  // 300 actors of a killed node started seconds after the first on a loaded machine.
  const batches: string[][] = [];
  const all = [...actors.keys()];
  for (let i = 0; i < all.length; i += ACQUIRE_BATCH) {
    batches.push(all.slice(i, i + ACQUIRE_BATCH));
  }
  let next = 0;
  const lane = async () => {
    while (next < batches.length && !stopping.aborted) {
      const batch = batches[next++]!.filter((id) => !active.has(id));
      for (const id of await leases.acquireMany(batch)) {
        // Activated meanwhile (a message came): that activation runs under this same lease.
        if (active.has(id)) continue;
        if (stopping.aborted || (cluster && !cluster.isMine(id))) {
          await leases.release(id).catch(() => {});
          continue;
        }
        ctx.begin(id, actors.get(id)!);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(RESTORE_PARALLEL, batches.length) }, lane));
}
