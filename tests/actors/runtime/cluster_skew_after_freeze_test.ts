/**
 * A process that did not run for longer than a lease (SIGSTOP, a VM freeze, reads held up by a
 * KV file a frozen peer keeps locked) reads the others' heartbeats after a long gap: the offset
 * it estimates from that read is uncertain by half the gap, so it logs no `cluster.clock-skew`
 * for nodes whose clocks agree with its own. Two `Cluster`s over one real KV file, one wall and
 * monotonic clock the test moves.
 * @module
 */

import assert from "node:assert/strict";
import { Cluster } from "../../../actors/runtime/cluster.ts";
import { memoryLogger } from "../../../actors/runtime/log.ts";
import { NodeRegistry } from "../../../actors/store/nodes.ts";
import { tempDir } from "../../helpers/temp.ts";
import { LEASE } from "./store_cluster.ts";

Deno.test("a node that did not run for longer than a lease (SIGSTOP) logs no clock skew of nodes on the same clock", async () => {
  await using dir = await tempDir({ prefix: "cluster-freeze-" });
  const kv = await Deno.openKv(`${dir.path}/engine.kv`);
  const clock = { wall: Date.now(), mono: 1_000 };
  const log = memoryLogger();
  const make = (id: string) =>
    new Cluster({
      registry: new NodeRegistry(kv),
      node: id,
      leaseMs: LEASE,
      now: () => clock.wall,
      monotonic: () => clock.mono,
      log,
      load: () => ({ actors: 0, load: 0 }),
    });
  const a = make("node-a"), b = make("node-b");
  /** `nodes` beat once a second for `seconds`. */
  const beat = async (nodes: Cluster[], seconds: number) => {
    for (let i = 0; i < seconds; i++) {
      clock.wall += 1_000;
      clock.mono += 1_000;
      for (const n of nodes) await n.refresh();
    }
  };
  try {
    await beat([a, b], 4);
    await beat([a], 15); // b frozen 15 s: a beats on, b reads nothing
    await beat([a, b], 4); // b runs again
    assert.deepEqual(log.lines.filter((l) => l.includes("cluster.clock-skew")), []);
    const fromB = (await b.nodes()).find((n) => n.id === "node-a")!;
    assert.ok(Math.abs(fromB.clockOffsetMs!) <= 1_000, String(fromB.clockOffsetMs));
  } finally {
    kv.close();
  }
});
