/**
 * A lease taken from another node (its renewal unchanged for a lifetime: the node died or froze)
 * is reported to `onTakeover` with that node's id, which the engine logs as
 * `cluster.actors-taken-over` on the node that takes the actors; a lease that was free, or this
 * node's own, is not. Two `Leases` over one real KV file, an elapsed clock the test moves.
 */

import assert from "node:assert/strict";
import { Leases } from "../../../actors/store/leases.ts";
import { tempDir } from "../../helpers/temp.ts";

const TTL = 9_000;

Deno.test("a lease taken from a dead node is reported with that node; a free or own lease is not", async () => {
  await using dir = await tempDir({ prefix: "lease-takeover-" });
  const kv = await Deno.openKv(`${dir.path}/engine.kv`);
  try {
    const clock = { elapsed: 0 };
    const reported: { actor: string; from: string }[] = [];
    const make = (node: string) =>
      new Leases(kv, node, {
        ttlMs: TTL,
        elapsed: () => clock.elapsed,
        onTakeover: (taken) => reported.push(...taken),
      });
    const a = make("node-a");
    const b = make("node-b");
    assert.equal(await a.acquire("mllp-out:ehr:1"), true);
    assert.deepEqual(await a.acquireMany(["mllp-out:lab:2", "https:hook"]), [
      "mllp-out:lab:2",
      "https:hook",
    ]);
    assert.deepEqual(reported, [], "free leases are no takeover");
    await b.observeAll();
    // node-a dies: a lifetime later node-b takes its actors, one alone and two in a batch.
    clock.elapsed += TTL + 1;
    assert.equal(await b.acquire("mllp-out:ehr:1"), true);
    assert.deepEqual(await b.acquireMany(["mllp-out:lab:2", "https:hook"]), [
      "mllp-out:lab:2",
      "https:hook",
    ]);
    assert.deepEqual(reported, [
      { actor: "mllp-out:ehr:1", from: "node-a" },
      { actor: "mllp-out:lab:2", from: "node-a" },
      { actor: "https:hook", from: "node-a" },
    ]);
    // Its own lease, released and taken again: no takeover.
    await b.release("https:hook", b.tokenOf("https:hook")!);
    assert.equal(await b.acquire("https:hook"), true);
    assert.equal(reported.length, 3);
  } finally {
    kv.close();
  }
});
