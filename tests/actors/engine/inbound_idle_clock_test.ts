/**
 * An inbound actor's idle period runs on the monotonic clock: a wall-clock step forward (an NTP
 * step, `date -s`) does not end it early, and it still ends once the idle time has really passed.
 * A real KV store, a manual clock whose wall time is stepped alone.
 */

import assert from "node:assert/strict";
import { parseConfig } from "../../../actors/config/mod.ts";
import { InboundActor } from "../../../actors/engine/inbound_actor.ts";
import { ManualClock } from "../../../actors/runtime/clock.ts";
import { memoryLogger } from "../../../actors/runtime/log.ts";
import { Store } from "../../../actors/store/mod.ts";
import { waitFor } from "../../helpers/net.ts";

Deno.test("an idle inbound actor is not deactivated by a wall-clock step forward, only by idle time passing", async () => {
  const parsed = parseConfig({ environments: [{ id: "dev", type: "development" }] }, {
    env: () => undefined,
    readFile: () => new Error("no files"),
  });
  assert.ok(parsed.ok);
  const store = new Store(await Deno.openKv(":memory:"), { node: "t" });
  const clock = new ManualClock();
  const actor = new InboundActor({
    id: "mllp-in:2575:127.0.0.1",
    config: parsed.config,
    store,
    clock,
    log: memoryLogger(),
    notify: () => {},
    decode: (b) => new TextDecoder().decode(b),
    pollMs: 1000,
    idleDeactivateMs: 5000,
  });
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
