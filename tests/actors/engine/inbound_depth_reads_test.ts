/**
 * An idle inbound actor told its queue's depth by the supervisor (each poll period) reads its queue
 * only when woken (a message accepted, a command), when the depth says the queue holds entries,
 * and on its own once in 30 poll periods, and it sleeps until then rather than wake every poll
 * period; untold (run on its own, or once it finds the telling stopped for three periods) it reads
 * every poll period, as before. Each read goes through the read gate the
 * destinations' backlogs take turns at. A real KV store, a manual clock.
 */

import assert from "node:assert/strict";
import { waitFor } from "../../helpers/net.ts";
import { countPeeks } from "../../helpers/queue.ts";
import { countSleeps } from "../../helpers/sleeps.ts";
import { idleInboundActor } from "./inbound_fixture.ts";

const POLL_MS = 1000;

Deno.test("an idle inbound actor told its queue's depth reads it only when woken, when it holds entries, and once in 30 poll periods", async () => {
  const { actor, store, clock } = await idleInboundActor({ pollMs: POLL_MS });
  const reads = countPeeks(store, (queue) => queue === actor.id);
  const sleeps = countSleeps(clock);
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
    const slept = sleeps();
    await polls(20, 0);
    assert.equal(reads() - told, 0, "told an empty queue: no read of its own");
    assert.equal(sleeps() - slept, 0, "told an empty queue: asleep until its own read");
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
    // The telling stops: asleep until its own read, the actor finds that then (within 30 periods)
    // and reads every period again.
    await polls(30);
    const untold = reads();
    assert.ok(untold >= told + 4, "no read in the 30 periods after the telling stopped");
    await polls(3);
    assert.equal(reads() - untold, 3, "untold again: a read every poll period");
  } finally {
    abort.abort();
    await run;
    store.close();
  }
});
