/**
 * An inbound actor's idle period runs on the monotonic clock: a wall-clock step forward (an NTP
 * step, `date -s`) does not end it early, and it still ends once the idle time has really passed.
 * A real KV store, a manual clock whose wall time is stepped alone.
 */

import assert from "node:assert/strict";
import { waitFor } from "../../helpers/net.ts";
import { idleInboundActor } from "./inbound_fixture.ts";

Deno.test("an idle inbound actor is not deactivated by a wall-clock step forward, only by idle time passing", async () => {
  const { actor, store, clock } = await idleInboundActor({ pollMs: 1000, idleDeactivateMs: 5000 });
  const abort = new AbortController();
  let ended = false;
  const run = actor.run(abort.signal).then(() => ended = true);
  try {
    await waitFor("the actor asleep, idle", () => clock.pending === 1);
    clock.stepWall(3600_000);
    clock.advance(1000);
    await waitFor("asleep again or ended", () => ended || clock.pending === 1);
    assert.equal(ended, false, "an hour's step of the wall clock is not an hour idle");
    clock.advance(5000);
    await waitFor("deactivated after 5 s idle", () => ended);
  } finally {
    abort.abort();
    await run;
    store.close();
  }
});
