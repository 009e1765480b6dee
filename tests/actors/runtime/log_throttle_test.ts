import assert from "node:assert/strict";
import { ManualClock } from "../../../actors/runtime/clock.ts";
import { LogThrottle } from "../../../actors/runtime/log_throttle.ts";

Deno.test("LogThrottle: one line per key and interval, carrying the count since the last line", () => {
  const clock = new ManualClock();
  const throttle = new LogThrottle(5_000, () => clock.now());
  assert.equal(throttle.note("10.0.0.1"), 1);
  for (let i = 0; i < 99; i++) assert.equal(throttle.note("10.0.0.1"), 0);
  // Another key is counted on its own.
  assert.equal(throttle.note("10.0.0.2"), 1);
  clock.advance(4_999);
  assert.equal(throttle.note("10.0.0.1"), 0);
  clock.advance(1);
  // The 99 + 1 held back, and this one.
  assert.equal(throttle.note("10.0.0.1"), 101);
  assert.equal(throttle.note("10.0.0.1"), 0);
  clock.advance(60_000);
  assert.equal(throttle.note("10.0.0.1"), 2);
  assert.equal(throttle.note("10.0.0.2"), 1);
});
