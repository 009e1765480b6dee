/**
 * Wall-clock steps and what HTTP keeps in memory: the per-client rate limit, the console's tally
 * cache and its sessions measure elapsed time on a monotonic clock, so a step (NTP, `date -s`)
 * neither refuses a client for hours, nor freezes the dashboard, nor keeps a session past its idle
 * limit. Clocks are injected; the rate limiter's default clock is checked by stepping `Date.now`.
 */

import assert from "node:assert/strict";
import { RateLimiter } from "../../../transports/http/rate_limit.ts";
import { TallyCache } from "../../../transports/http/console/tally.ts";
import { Sessions } from "../../../transports/http/console/sessions.ts";
import type { AdminService } from "../../../actors/ports.ts";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

Deno.test("rate limit: after the clock steps back a day, a client far under the limit is never refused", () => {
  let now = 1_000_000_000;
  // The engine's default: 10,000 per 5 minutes.
  const limiter = new RateLimiter({ limit: 10_000, windowMs: 300_000, now: () => now });
  assert.equal(limiter.take("client").allowed, true);
  now -= DAY;
  // One request every 5 s for a day: 60 per window, far under the limit.
  for (let i = 0; i < DAY / 5_000; i++) {
    now += 5_000;
    const d = limiter.take("client");
    assert.equal(d.allowed, true, `request ${i} refused`);
    // A request counts for a window and at most one slice more: 310 s, 63 requests at most.
    assert.ok(d.remaining >= 10_000 - 63, `remaining ${d.remaining} at request ${i}`);
  }
});

Deno.test("rate limit: by default a wall-clock step forward does not forgive the requests in the window", () => {
  const realNow = Date.now;
  try {
    let wall = realNow();
    Date.now = () => wall;
    const limiter = new RateLimiter({ limit: 2, windowMs: 300_000 });
    assert.equal(limiter.take("client").allowed, true);
    assert.equal(limiter.take("client").allowed, true);
    wall += DAY;
    const d = limiter.take("client");
    assert.equal(d.allowed, false, "the window is still full: no real time went by");
  } finally {
    Date.now = realNow;
  }
});

/** A store whose log listing counts the scans (each returns no logs). */
function countingStore(): { store: Pick<AdminService, "listLogs">; scans: () => number } {
  let scans = 0;
  const store = {
    listLogs: () => {
      scans++;
      return Promise.resolve({ logs: [] });
    },
  } as unknown as Pick<AdminService, "listLogs">;
  return { store, scans: () => scans };
}

Deno.test("console tally: a wall clock stepped back an hour rebuilds the tally at once rather than an hour later", async () => {
  const { store, scans } = countingStore();
  let wall = Date.UTC(2026, 5, 1);
  let mono = 1_000;
  const cache = new TallyCache(store, () => wall, { ttlMs: 5_000, monotonic: () => mono });
  const first = await cache.last24h();
  assert.equal(scans(), 1);
  mono += 1_000;
  await cache.last24h();
  assert.equal(scans(), 1, "fresh on both clocks: cached");
  wall -= HOUR;
  mono += 1_000;
  const after = await cache.last24h();
  assert.equal(scans(), 2, "rebuilt after the step back");
  assert.equal(after.since, first.since - HOUR, "counted back from the wall clock's now");
  // Then cached again, and rebuilt once the TTL passed on the monotonic clock alone.
  mono += 4_000;
  await cache.last24h();
  assert.equal(scans(), 2);
  mono += 1_000;
  await cache.last24h();
  assert.equal(scans(), 3);
});

Deno.test("console sessions: a wall clock stepped back does not keep a session past its idle limit", () => {
  let wall = Date.UTC(2026, 5, 1);
  let mono = 1_000;
  const sessions = new Sessions({
    idleMs: 60_000,
    maxMs: 3_600_000,
    now: () => wall,
    monotonic: () => mono,
  });
  const kept = sessions.create({ name: "ops", role: "operator" }, "127.0.0.1");
  const idle = sessions.create({ name: "ops", role: "operator" }, "127.0.0.1");
  wall -= HOUR;
  mono += 30_000;
  assert.ok(sessions.touch(kept.id), "30 s idle: alive");
  mono += 31_000;
  assert.ok(sessions.touch(kept.id), "touched 31 s ago: alive");
  assert.equal(sessions.touch(idle.id), undefined, "61 s idle (monotonic): ended");
  // The absolute limit too: an hour after sign-in, however the wall clock moved.
  mono += 3_600_000 - 61_000;
  assert.equal(sessions.touch(kept.id), undefined);
});
