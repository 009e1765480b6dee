/**
 * The queues no live node serves, as the supervisor lists them for operators
 * (`Supervisor.unserved`: the admin API, `/metrics`, the console): a queue with entries whose
 * actor no running node's config builds is listed with its depth from the first restore round
 * that sees it, past the grace (on the lease clock, a manual one here) once it has lasted, and
 * leaves the list when a node serving it runs or its queue empties; served queues never show.
 * Real supervisors over one real KV file, as in cluster_serves_test.ts.
 */

import assert from "node:assert/strict";
import { ManualClock } from "../../../actors/runtime/clock.ts";
import { memoryLogger } from "../../../actors/runtime/log.ts";
import { Supervisor } from "../../../actors/runtime/supervisor.ts";
import { UNSERVED_HINT, UNSERVED_REASON } from "../../../actors/runtime/supervisor_unserved.ts";
import { Store } from "../../../actors/store/mod.ts";
import { waitFor } from "../../helpers/net.ts";
import { enqueueAdt } from "../../helpers/queue.ts";
import { idleActor, servingCluster, twoNodes } from "./fixtures.ts";

const LEASE = 10_000;
const GRACE = 60_000;
/** No node's config has port 2577: its queue is unserved. */
const UNSERVED = "mllp-in:2577:127.0.0.1";
/** Node a serves port 2575. */
const SERVED = "mllp-in:2575:127.0.0.1";

/**
 * A supervisor of node `store.node` serving port `port`, polling every 20 ms, its grace timed on
 * `leaseClock` (real time otherwise).
 */
function supervisorOf(
  store: Store,
  port: number,
  log = memoryLogger(),
  leaseClock?: ManualClock,
): Supervisor {
  const prefix = `mllp-in:${port}:`;
  return new Supervisor({
    store,
    log,
    pollMs: 20,
    unservedGraceMs: GRACE,
    ...(leaseClock ? { leaseClock } : {}),
    leases: store.leases({ ttlMs: LEASE }),
    cluster: servingCluster(store, () => [`${prefix}*`]),
    factory: (id) => id.startsWith(prefix) ? idleActor(id) : undefined,
  });
}

Deno.test("unserved queues: listed with their depth, past the grace once it has gone by, gone once a node serving them runs; served queues never", async () => {
  await twoNodes("unserved-queues-", async (storeA, storeB) => {
    for (const id of ["U-1", "U-2"]) await enqueueAdt(storeA, UNSERVED, id);
    await enqueueAdt(storeA, SERVED, "S-1");
    const clock = new ManualClock();
    const log = memoryLogger();
    const a = supervisorOf(storeA, 2575, log, clock);
    const b = supervisorOf(storeB, 2577);
    try {
      await a.start();
      // The first restore round (in start) saw it: listed at once, not yet past the grace.
      const first = a.unserved();
      assert.deepEqual(first, [{
        actor: UNSERVED,
        queued: 2,
        since: clock.now(),
        forMs: 0,
        pastGrace: false,
        warned: false,
        reason: UNSERVED_REASON,
        hint: UNSERVED_HINT,
      }]);

      clock.advance(GRACE);
      await waitFor("the warning", () => a.unserved()[0]?.warned === true);
      const [after] = a.unserved();
      assert.equal(after?.actor, UNSERVED);
      assert.equal(after.queued, 2);
      assert.equal(after.pastGrace, true);
      assert.equal(after.forMs, GRACE);
      assert.equal(after.since, first[0]!.since, "since: when first seen, not the last look");
      // The listing says what the log line says.
      const line = log.lines.find((l) => l.includes("cluster.actor-unserved")) ?? "";
      assert.ok(line.includes(UNSERVED_REASON) && line.includes(UNSERVED_HINT), line);
      assert.ok(a.unserved().every((u) => u.actor !== SERVED), "the served queue is not listed");

      // One more message: the depth follows at the next look.
      await enqueueAdt(storeA, UNSERVED, "U-3");
      await waitFor("depth 3", () => a.unserved()[0]?.queued === 3);

      // A node whose config has port 2577 starts: a sees it serve the queue, and lists none.
      await b.start();
      await waitFor("no unserved queue on a", () => a.unserved().length === 0, 10_000);
      assert.deepEqual(b.unserved(), [], "b serves it, and a serves 2575");
    } finally {
      await a.stop();
      await b.stop();
    }
  });
});

Deno.test("unserved queues: one leaves the list once its queue is empty", async () => {
  await twoNodes("unserved-queues-", async (storeA) => {
    await enqueueAdt(storeA, UNSERVED, "U-1");
    const a = supervisorOf(storeA, 2575);
    try {
      await a.start();
      assert.deepEqual(a.unserved().map((u) => [u.actor, u.queued]), [[UNSERVED, 1]]);
      // An operator (or another node before it stopped) emptied it.
      const [head] = await storeA.peek(UNSERVED);
      assert.ok(head && await storeA.deadLetter(head, "test", "emptied"));
      await waitFor("an empty list", () => a.unserved().length === 0);
    } finally {
      await a.stop();
    }
  });
});
