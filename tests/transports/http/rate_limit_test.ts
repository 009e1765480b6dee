import assert from "node:assert/strict";
import fc from "fast-check";
import { RateLimiter } from "../../../transports/http/rate_limit.ts";

Deno.test("rate limit lets requests back in as the oldest slices leave the rolling window", () => {
  let now = 1_000_000_000; // the start of a slice
  // 4 per 40 s, counted in slices of 10 s.
  const limiter = new RateLimiter({ limit: 4, windowMs: 40_000, slices: 4, now: () => now });
  now += 5_000;
  assert.deepEqual(limiter.take("a"), { allowed: true, limit: 4, remaining: 3 });
  now += 10_000;
  limiter.take("a");
  limiter.take("a");
  limiter.take("a");
  // Full: the first request (made 10 s ago, mid-slice) counts until its slice's end + 40 s.
  assert.deepEqual(limiter.take("a"), {
    allowed: false,
    limit: 4,
    remaining: 0,
    retryAfterSeconds: 35,
  });
  // Refused requests are not counted, and other clients have their own window.
  assert.equal(limiter.take("b").allowed, true);
  now += 34_000;
  assert.equal(limiter.take("a").allowed, false);
  now += 1_000;
  assert.deepEqual(limiter.take("a"), { allowed: true, limit: 4, remaining: 0 });
  assert.equal(limiter.take("a").allowed, false);
  // Long idle: everything has aged out.
  now += 3_600_000;
  assert.deepEqual(limiter.take("a"), { allowed: true, limit: 4, remaining: 3 });
});

Deno.test("rate limit never admits more than the limit within any window and says when to retry", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 20 }),
      fc.array(fc.integer({ min: 0, max: 3_000 }), { minLength: 1, maxLength: 100 }),
      (limit, gaps) => {
        const windowMs = 10_000;
        /** A limiter whose clock is set by each call. */
        const fresh = () => {
          let now = 0;
          const limiter = new RateLimiter({ limit, windowMs, slices: 10, now: () => now });
          return { at: (t: number) => (now = t, limiter.take("ip")) };
        };
        const live = fresh();
        const admitted: number[] = [];
        let now = 0;
        for (const gap of gaps) {
          now += gap;
          const d = live.at(now);
          // No window of `windowMs` ever holds more than `limit` admitted requests.
          const recent = admitted.filter((t) => t > now - windowMs).length;
          if (d.allowed) {
            assert.ok(recent < limit, `admitted ${recent + 1} within ${windowMs} ms`);
            admitted.push(now);
          } else {
            assert.ok(d.retryAfterSeconds >= 1 && d.retryAfterSeconds <= 11);
            // The same history, then a request when told to come back: admitted.
            const again = fresh();
            for (const t of admitted) again.at(t);
            assert.ok(again.at(now + d.retryAfterSeconds * 1000).allowed, "Retry-After too short");
          }
        }
      },
    ),
    { numRuns: 200 },
  );
});

Deno.test("rate limit forgets idle clients first when it tracks too many", () => {
  let now = 0;
  const limiter = new RateLimiter({ limit: 1, windowMs: 1_000, maxClients: 3, now: () => now });
  for (const ip of ["a", "b", "c"]) limiter.take(ip);
  now += 5_000;
  limiter.take("c");
  limiter.take("d");
  assert.equal(limiter.size, 2, "a and b had aged out and were dropped");
  assert.equal(limiter.take("c").allowed, false, "c is still counted");
  assert.throws(() => new RateLimiter({ limit: 0, windowMs: 1 }), /limit must be a positive/);
  assert.throws(() => new RateLimiter({ limit: 1, windowMs: 0 }), /window must be positive/);
});

Deno.test("rate limit: peek tells the verdict without counting; take counts", () => {
  let now = 0;
  const limiter = new RateLimiter({ limit: 2, windowMs: 60_000, now: () => now });
  for (let i = 0; i < 5; i++) assert.equal(limiter.peek("a").allowed, true);
  assert.equal(limiter.size, 0, "peek tracks nobody");
  limiter.take("a");
  limiter.take("a");
  const held = limiter.peek("a");
  assert.equal(held.allowed, false);
  assert.ok(!held.allowed && held.retryAfterSeconds >= 1);
  assert.equal(limiter.peek("b").allowed, true);
  now += 62_000;
  assert.equal(limiter.peek("a").allowed, true, "the failures aged out");
});
