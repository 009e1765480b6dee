/**
 * A cluster over a store's KV, wired as the engine wires it, for the cluster tests that step
 * clocks by hand.
 * @module
 */

import { Cluster } from "../../../actors/runtime/cluster.ts";
import type { memoryLogger } from "../../../actors/runtime/log.ts";
import { NodeRegistry } from "../../../actors/store/nodes.ts";
import type { Store } from "../../../actors/store/mod.ts";

/** The lease of {@link storeCluster}'s clusters, milliseconds. */
export const LEASE = 10_000;

/**
 * A cluster over `store`'s KV, with the store's own id generator (as the engine wires it), the
 * wall clock `now` and the monotonic clock `mono`.
 */
export function storeCluster(
  store: Store,
  now: () => number,
  mono: () => number,
  log?: ReturnType<typeof memoryLogger>,
): Cluster {
  return new Cluster({
    registry: new NodeRegistry(store.kv),
    node: store.node,
    leaseMs: LEASE,
    now,
    monotonic: mono,
    ids: store.idGenerator,
    ...(log ? { log } : {}),
    load: () => ({ actors: 0, load: 0 }),
  });
}
