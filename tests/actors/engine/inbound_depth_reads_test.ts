/**
 * An idle inbound actor told its queue's depth by the supervisor (each poll period) reads its queue
 * only when woken (a message accepted, a command), when the depth says the queue holds entries,
 * and on its own once in 30 poll periods; untold (run on its own, or once the telling stops for
 * three periods) it reads every poll period, as before. Each read goes through the read gate the
 * destinations' backlogs take turns at. A real KV store, a manual clock.
 */

import assert from "node:assert/strict";
import { waitFor } from "../../helpers/net.ts";
import { countPeeks } from "../../helpers/queue.ts";
import { idleInboundActor } from "./inbound_fixture.ts";

const POLL_MS = 1000;

Deno.test("an idle inbound actor told its queue's depth reads it only when woken, when it holds entries, and once in 30 poll periods", async () => {
  const { actor, store, clock } = await idleInboundActor({ pollMs: POLL_MS });
  const reads = countPeeks(store, (queue) => queue === actor.id);
  const abort = new AbortController();
  const run = actor.run(abort.signal);
  const asleep = () => waitFor("the actor asleep", () => clock.pending === 1);
  /** `n` poll periods, the depth told before each when `depth` is given. */
  const polls = async (n: number, depth?: number) => {
    for (let i = 0; i < n; i++) {
      if (depth !== undefined) actor.queueDepth(depth);
      clock.advance(POLL_MS);
      await asleep();
    }
  };
  try {
    await asleep();
    assert.equal(reads(), 1, "read once when it starts");
    await polls(3);
    assert.equal(reads(), 4, "untold: a read every poll period");
    await polls(1, 0);
    const told = reads();
    await polls(20, 0);
    assert.equal(reads() - told, 0, "told an empty queue: no read of its own");
    actor.queueDepth(2);
    await waitFor("a read once the depth says the queue holds entries", () => reads() === told + 1);
    await asleep();
    actor.notify();
    await waitFor("a read once woken", () => reads() === told + 2);
    await asleep();
    await polls(29, 0);
    assert.equal(reads(), told + 2, "no read of its own for 29 periods");
    await polls(1, 0);
    assert.equal(reads(), told + 3, "its own read, 30 periods after the last one");
    await polls(4);
    assert.ok(reads() >= told + 4, "the telling stopped: reads every period again");
  } finally {
    abort.abort();
    await run;
    store.close();
  }
});
