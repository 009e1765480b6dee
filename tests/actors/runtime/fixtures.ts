/**
 * Pieces the supervisor and cluster tests share: an actor that only waits to be stopped, two
 * nodes' stores on one KV file, and a cluster over a store serving what it is told.
 * @module
 */

import type { Actor } from "../../../actors/runtime/actor.ts";
import { Cluster } from "../../../actors/runtime/cluster.ts";
import { NodeRegistry } from "../../../actors/store/nodes.ts";
import { Store } from "../../../actors/store/mod.ts";
import { tempDir } from "../../helpers/temp.ts";

/** An actor that only waits to be stopped (its queue stays as it is); `stopped` lists the ones that were. */
export function idleActor(id: string, stopped?: Set<string>): Actor {
  return {
    id,
    kind: "test",
    run: (signal) =>
      new Promise<void>((resolve) =>
        signal.addEventListener("abort", () => {
          stopped?.add(id);
          resolve();
        })
      ),
    notify() {},
    status: () => Promise.resolve({ id, kind: "test", state: "idle" } as never),
    command: () => Promise.resolve({ ok: true } as never),
  };
}

/** Stores of nodes "a" and "b" on one KV file (in a temporary folder named `prefix`…), closed after `body`. */
export async function twoNodes(
  prefix: string,
  body: (a: Store, b: Store) => Promise<void>,
): Promise<void> {
  await using dir = await tempDir({ prefix });
  const path = `${dir.path}/engine.kv`;
  const a = await Store.open({ path, node: "a" });
  const b = await Store.open({ path, node: "b" });
  try {
    await body(a, b);
  } finally {
    a.close();
    b.close();
  }
}

/**
 * A cluster over `store`'s KV (a 10 s lease, the wall clock, the store's ids) serving `serves()`,
 * everything when not given.
 */
export function servingCluster(store: Store, serves?: () => string[]): Cluster {
  return new Cluster({
    registry: new NodeRegistry(store.kv),
    node: store.node,
    leaseMs: 10_000,
    now: Date.now,
    ids: store.idGenerator,
    load: () => ({ actors: 0, load: 0 }),
    ...(serves ? { serves } : {}),
  });
}
