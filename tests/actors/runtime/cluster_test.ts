/**
 * Scale-out pieces in one process: rendezvous hashing moves only what it must, leases fence a
 * stale owner's commits (and renewals never fence the rightful owner's), and a lease not renewed
 * for two thirds of its lifetime is no longer valid for sending.
 */

import assert from "node:assert/strict";
import { Cluster, rendezvous } from "../../../actors/runtime/cluster.ts";
import { Leases } from "../../../actors/store/leases.ts";
import { NodeRegistry } from "../../../actors/store/nodes.ts";
import { FencedError, Store } from "../../../actors/store/mod.ts";
import { acceptAndRoute } from "../../helpers/queue.ts";

const actors = Array.from({ length: 3000 }, (_, i) => `https:dest-${i}`);
const assign = (nodes: { id: string; weight: number }[]) =>
  new Map(actors.map((a) => [a, rendezvous(a, nodes)]));

Deno.test("rendezvous hashing: a join or a leave moves only the actors that node wins or held", () => {
  const two = [{ id: "a", weight: 1 }, { id: "b", weight: 1 }];
  const three = [...two, { id: "c", weight: 1 }];
  const before = assign(two), after = assign(three);
  let moved = 0;
  for (const a of actors) {
    if (before.get(a) !== after.get(a)) {
      moved++;
      assert.equal(after.get(a), "c", "an actor moves only to the node that joined");
    }
  }
  // About a third moves to the newcomer; none moves between the others.
  assert.ok(moved > 800 && moved < 1200, `moved ${moved}`);
  const left = assign([{ id: "a", weight: 1 }, { id: "c", weight: 1 }]);
  for (const a of actors) {
    if (after.get(a) !== "b") assert.equal(left.get(a), after.get(a), "b's leave moves only b's");
  }
  // A restart (the same nodes) reshuffles nothing.
  assert.deepEqual(assign(three), after);
  // Weights: a node of weight 2 takes about twice the share.
  const weighted = [...assign([{ id: "a", weight: 2 }, { id: "b", weight: 1 }]).values()];
  const shareA = weighted.filter((n) => n === "a").length / actors.length;
  assert.ok(shareA > 0.6 && shareA < 0.73, `share ${shareA}`);
});

Deno.test("membership: nodes register with a heartbeat; one missing heartbeats for a lease is dead", async () => {
  const kv = await Deno.openKv(":memory:");
  let now = 1_000_000;
  const make = (node: string) =>
    new Cluster({
      registry: new NodeRegistry(kv),
      node,
      address: `http://${node}:8080`,
      leaseMs: 10_000,
      now: () => now,
      monotonic: () => now,
      load: () => ({ actors: 3, load: 0 }),
    });
  const a = make("a"), b = make("b");
  try {
    await a.refresh();
    assert.equal(await b.refresh(), true);
    await a.refresh();
    assert.deepEqual(a.liveIds, ["a", "b"]);
    const nodes = await a.nodes();
    assert.deepEqual(nodes.map((n) => [n.id, n.live, n.self, n.actors]), [
      ["a", true, true, 3],
      ["b", true, false, 3],
    ]);
    assert.equal(nodes[1]!.address, "http://b:8080");
    now += 10_001; // b stopped beating
    assert.equal(await a.refresh(), true);
    assert.deepEqual(a.liveIds, ["a"]);
    assert.ok(actors.every((id) => a.isMine(id)), "a dead node's actors all come back to a");
  } finally {
    kv.close();
  }
});

Deno.test("fencing: after another node took the lease, the old owner's completion is refused; renewals fence nothing", async () => {
  let now = 1_000_000;
  let elapsed = 0;
  const store = new Store(await Deno.openKv(":memory:"), { node: "a", now: () => now });
  const a = new Leases(store.kv, "a", { ttlMs: 9_000, now: () => now, elapsed: () => elapsed });
  const b = new Leases(store.kv, "b", { ttlMs: 9_000, now: () => now, elapsed: () => elapsed });
  store.fenceWith((q) => a.fence(q));
  const queue = "https:ehr";
  const payload = (id: string) => ({
    origin: { kind: "integration" as const, id: "feed" },
    payload: new TextEncoder().encode(id),
    contentType: "text/plain",
    log: { type: "RECEIVE" as const },
  });
  const delivery = { queue, destinationId: "ehr", log: {} };
  try {
    assert.equal(await a.acquire(queue), true);
    await acceptAndRoute(store, payload("m1"), delivery, "m1");
    await acceptAndRoute(store, payload("m2"), delivery, "m2");
    const [h1, h2] = await store.peek(queue, 2);
    // A renewal between reading the head and completing it does not fence the owner.
    now += 3_000;
    elapsed += 3_000;
    assert.deepEqual(await a.renew([queue]), []);
    assert.equal(await store.complete(h1!, { at: now, outcome: "SUCCEEDED", durationMs: 1 }), true);

    // a freezes: no renewal. Two thirds of the lifetime on, it may no longer send.
    elapsed += 6_000;
    assert.equal(a.valid(queue), false);
    assert.equal(await b.acquire(queue), false, "not expired yet: b waits");
    now += 9_001;
    elapsed += 9_001;
    assert.equal(await b.acquire(queue), true, "expired: b takes over");
    // a wakes up and tries to complete (or skip) the next head: refused as fenced (not "gone",
    // which would let a read it back and send it again), the head stays for b.
    await assert.rejects(
      store.complete(h2!, { at: now, outcome: "SUCCEEDED", durationMs: 1 }),
      FencedError,
    );
    await assert.rejects(store.deadLetter(h2!, "a", "stale"), FencedError);
    assert.equal(await store.depth(queue), 1);
    assert.deepEqual(await a.renew([queue]), [queue], "a learns it lost the lease");
    assert.equal(await b.owner(queue), "b");
  } finally {
    store.close();
  }
});
