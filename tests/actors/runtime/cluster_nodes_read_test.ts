/**
 * `Cluster.nodes()` (`GET /admin/nodes`, the console's nodes page) is a pure read: polled between
 * two heartbeats, it shows a node's changed record but leaves it changed for the next
 * `refresh()`, whose id guard for a node with a clock ahead still applies. Two `Cluster`s with
 * their stores' id generators over one real KV file, each with its own wall clock, and a
 * monotonic clock the test moves.
 */

import assert from "node:assert/strict";
import { Store } from "../../../actors/store/mod.ts";
import { enqueueAdt } from "../../helpers/queue.ts";
import { tempDir } from "../../helpers/temp.ts";
import { storeCluster } from "./store_cluster.ts";

const HOUR = 3_600_000;

Deno.test("nodes() between two heartbeats leaves a clock that stepped ahead to the next refresh's id guard", async () => {
  await using dir = await tempDir({ prefix: "cluster-nodes-read-" });
  const path = `${dir.path}/engine.kv`;
  const wall = Date.now();
  let stepA = 0;
  let mono = 0;
  const storeA = await Store.open({ path, node: "peek-a", now: () => wall + stepA });
  const storeB = await Store.open({ path, node: "peek-b", now: () => wall });
  const a = storeCluster(storeA, () => wall + stepA, () => mono);
  const b = storeCluster(storeB, () => wall, () => mono);
  try {
    for (let i = 0; i < 2; i++) {
      for (const c of [a, b]) await c.refresh();
      mono += 1_000;
    }
    // node-a's clock steps an hour ahead; its next heartbeat says so.
    stepA = HOUR;
    await a.refresh();
    // An operator looks at the nodes page before node-b's next heartbeat: it shows the change.
    const shown = (await b.nodes()).find((n) => n.id === "peek-a");
    assert.equal(shown?.live, true);
    assert.ok(Math.abs(shown.clockOffsetMs! - HOUR) <= 1_000, String(shown.clockOffsetMs));
    // Looking again changes nothing either.
    assert.deepEqual(await b.nodes(), await b.nodes());
    await b.refresh();

    // A sender failing over at once from node-a to node-b: node-b's ids are kept after
    // anything node-a's clock reaches before the next heartbeat, so the queue keeps the order.
    const sent: string[] = [];
    for (let i = 0; i < 3; i++) {
      sent.push((await enqueueAdt(storeA, "mllp-out:ehr", `F-${i}`)).messageId);
    }
    for (let i = 3; i < 6; i++) {
      sent.push((await enqueueAdt(storeB, "mllp-out:ehr", `F-${i}`)).messageId);
    }
    const queued = await storeA.peek("mllp-out:ehr", 10);
    assert.deepEqual(queued.map((h) => h.entry.messageId), sent, "queued in the order sent");
  } finally {
    storeA.close();
    storeB.close();
  }
});
