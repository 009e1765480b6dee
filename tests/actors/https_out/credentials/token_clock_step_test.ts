/**
 * A cached access token is used for its lifetime as the token endpoint gave it (`expires_in`, a
 * duration), counted on the monotonic clock: a wall clock stepped back does not keep a token past
 * its expiry, and one stepped forward does not drop a fresh token. A ManualClock plays the steps.
 */

import assert from "node:assert/strict";
import { TokenCache } from "../../../../actors/https_out/mod.ts";
import { ManualClock } from "../../../../actors/runtime/clock.ts";
import { memoryLogger } from "../../../../actors/runtime/log.ts";

const HOUR = 3_600_000;

Deno.test("a cached token is fetched again at the end of its lifetime though the wall clock stepped back, and not before though it stepped forward", async () => {
  const clock = new ManualClock();
  let fetches = 0;
  const cache = new TokenCache({
    clock,
    log: memoryLogger(),
    destinationId: "ehr",
    // 300 s: used until 30 s before.
    fetch: () => Promise.resolve({ accessToken: `tok-${++fetches}`, expiresInS: 300 }),
  });
  assert.equal(await cache.get(), "tok-1");
  clock.stepWall(2 * HOUR);
  clock.advance(60_000);
  assert.equal(await cache.get(), "tok-1", "a minute old: still used after a step forward");
  clock.stepWall(-6 * HOUR);
  clock.advance(210_000);
  assert.equal(await cache.get(), "tok-2", "4.5 minutes old: fetched again after a step back");
});
