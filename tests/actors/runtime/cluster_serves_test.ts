/**
 * Scale-out with configs that differ per node (two processes on one host have their own MLLP
 * ports): an actor goes only to a live node whose config can build it, whatever rendezvous
 * hashing over every node says; a node record without the list (an older engine) serves
 * everything; a queue no live node serves is warned of once. Two nodes over one real KV file.
 */

import assert from "node:assert/strict";
import type { Actor } from "../../../actors/runtime/actor.ts";
import { rendezvous } from "../../../actors/runtime/cluster.ts";
import { memoryLogger } from "../../../actors/runtime/log.ts";
import { Supervisor } from "../../../actors/runtime/supervisor.ts";
import { Store } from "../../../actors/store/mod.ts";
import { waitFor } from "../../helpers/net.ts";
import { enqueueAdt } from "../../helpers/queue.ts";
import { servingCluster, twoNodes } from "./fixtures.ts";

const LEASE = 10_000;
const BOTH = [{ id: "a", weight: 1 }, { id: "b", weight: 1 }];
/** 60 peers of each port: rendezvous over both nodes gives some of each port to each node. */
const peers = (port: number) => Array.from({ length: 60 }, (_, i) => `mllp-in:${port}:10.0.0.${i}`);

Deno.test("ownership: every actor of MLLP port P goes to the node listening on P, whatever the hash over both nodes says", async () => {
  await twoNodes("cluster-serves-", async (storeA, storeB) => {
    let bServes = ["mllp-in:2576:*", "mllp-out:ehr:7000"];
    const a = servingCluster(storeA, () => ["mllp-in:2575:*", "mllp-out:ehr:7000"]);
    const b = servingCluster(storeB, () => bServes);
    await a.refresh();
    await b.refresh();
    await a.refresh();
    assert.deepEqual(a.liveIds, ["a", "b"]);
    // The hash over both nodes would give some of port 2575's peers to b, some of 2576's to a.
    assert.ok(peers(2575).some((id) => rendezvous(id, BOTH) === "b"));
    assert.ok(peers(2576).some((id) => rendezvous(id, BOTH) === "a"));
    for (const c of [a, b]) {
      for (const id of peers(2575)) assert.equal(c.ownerOf(id), "a", `${c.node}: ${id}`);
      for (const id of peers(2576)) assert.equal(c.ownerOf(id), "b", `${c.node}: ${id}`);
      // Served by both: hashed over both, as before.
      assert.equal(c.ownerOf("mllp-out:ehr:7000"), rendezvous("mllp-out:ehr:7000", BOTH));
      assert.ok(c.served("mllp-in:2575:10.0.0.1") && c.served("mllp-out:ehr:7000"));
      // Served by no live node: said so (and hashed over every node: none can build it).
      assert.equal(c.served("mllp-in:2577:10.0.0.1"), false);
      assert.equal(c.served("https:gone"), false);
    }
    assert.ok(peers(2575).every((id) => a.isMine(id) && !b.isMine(id)));
    assert.ok(peers(2576).every((id) => b.isMine(id) && !a.isMine(id)));
    // b's heartbeat shows what it serves.
    const shown = (await a.nodes()).find((n) => n.id === "b");
    assert.deepEqual(shown?.serves, ["mllp-in:2576:*", "mllp-out:ehr:7000"]);

    // b's config now also listens on 2575 (a reload): a change of membership for both, and the
    // port's peers are spread by the hash again.
    bServes = [...bServes, "mllp-in:2575:*"];
    assert.equal(await b.refresh(), true, "b sees its own list change");
    assert.equal(await a.refresh(), true, "a sees b's list change");
    for (const id of peers(2575)) assert.equal(a.ownerOf(id), rendezvous(id, BOTH));
    assert.equal(await a.refresh(), false, "nothing changed since");
  });
});

Deno.test("ownership: a node record without the list (an older engine) serves everything", async () => {
  await twoNodes("cluster-serves-", async (storeA, storeB) => {
    const a = servingCluster(storeA, () => ["mllp-in:2575:*"]);
    const old = servingCluster(storeB); // no `serves`: its record has none
    await a.refresh();
    await old.refresh();
    await a.refresh();
    assert.equal((await a.nodes()).find((n) => n.id === "b")?.serves, undefined);
    for (const c of [a, old]) {
      // Port 2575: both serve it (b by default), the hash decides as before.
      for (const id of peers(2575)) assert.equal(c.ownerOf(id), rendezvous(id, BOTH));
      // Anything else: only b serves it.
      for (const id of peers(2576)) assert.equal(c.ownerOf(id), "b", `${c.node}: ${id}`);
      assert.ok(c.served("https:anything"));
    }
  });
});

/** An actor that counts its runs and waits to be stopped. */
function idleActor(id: string, runs: Map<string, number>): Actor {
  return {
    id,
    kind: "test",
    run: (signal) => {
      runs.set(id, (runs.get(id) ?? 0) + 1);
      return new Promise<void>((resolve) => signal.addEventListener("abort", () => resolve()));
    },
    notify() {},
    status: () => Promise.resolve({ id, kind: "test", state: "idle" } as never),
    command: () => Promise.resolve({ ok: true } as never),
  };
}

Deno.test("supervisors: the queues of port P that the hash gives to the node without P are drained by the node with P", async () => {
  await twoNodes("cluster-serves-", async (storeA, storeB) => {
    // Queued before either node runs (as after a restart): those the hash over both gives to b.
    const queues = peers(2575).filter((id) => rendezvous(id, BOTH) === "b").slice(0, 5);
    assert.ok(queues.length > 0);
    for (const [i, q] of queues.entries()) await enqueueAdt(storeA, q, `P-${i}`);
    const runs = new Map<string, number>();
    const make = (store: Store, port: number) => {
      const prefix = `mllp-in:${port}:`;
      return new Supervisor({
        store,
        log: memoryLogger(),
        pollMs: 50,
        leases: store.leases({ ttlMs: LEASE }),
        cluster: servingCluster(store, () => [`${prefix}*`]),
        // Its config has only its own port (the engine's factory: no actor for another port).
        factory: (id) => id.startsWith(prefix) ? idleActor(`${store.node}/${id}`, runs) : undefined,
      });
    };
    const supA = make(storeA, 2575), supB = make(storeB, 2576);
    try {
      await supB.start();
      await supA.start();
      await waitFor(
        "a runs every queue of its port",
        () => queues.every((q) => runs.has(`a/${q}`)),
      );
      assert.ok([...runs.keys()].every((k) => k.startsWith("a/")), "b builds none");
    } finally {
      await supA.stop();
      await supB.stop();
    }
  });
});

Deno.test("supervisors: a queue with entries that no live node serves is warned of once, naming it", async () => {
  await twoNodes("cluster-serves-", async (storeA) => {
    await enqueueAdt(storeA, "mllp-in:2577:127.0.0.1", "U-1");
    await enqueueAdt(storeA, "mllp-in:2575:127.0.0.1", "S-1");
    let looks = 0;
    const nonEmpty = storeA.nonEmptyQueues.bind(storeA);
    storeA.nonEmptyQueues = () => {
      looks++;
      return nonEmpty();
    };
    const log = memoryLogger();
    const runs = new Map<string, number>();
    const sup = new Supervisor({
      store: storeA,
      log,
      pollMs: 20,
      unservedGraceMs: 0,
      leases: storeA.leases({ ttlMs: LEASE }),
      cluster: servingCluster(storeA, () => ["mllp-in:2575:*"]),
      factory: (id) => id.startsWith("mllp-in:2575:") ? idleActor(id, runs) : undefined,
    });
    try {
      await sup.start();
      const warned = () => log.lines.filter((l) => l.includes("cluster.actor-unserved"));
      await waitFor("the warning", () => warned().length > 0);
      const at = looks;
      await waitFor("ten more looks at the queues", () => looks >= at + 10);
      assert.equal(warned().length, 1, warned().join("\n"));
      assert.match(warned()[0]!, /mllp-in:2577:127\.0\.0\.1/);
      assert.match(warned()[0]!, /no running node's config has this actor/);
      assert.ok(!warned()[0]!.includes("2575"), "the served queue is not warned of");
      assert.ok(runs.has("mllp-in:2575:127.0.0.1"));
    } finally {
      await sup.stop();
    }
  });
});
