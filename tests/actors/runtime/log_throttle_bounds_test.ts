import assert from "node:assert/strict";
import { ManualClock } from "../../../actors/runtime/clock.ts";
import { LogThrottle } from "../../../actors/runtime/log_throttle.ts";

Deno.test("LogThrottle: a flood from more addresses than it tracks keeps its memory bounded and shares one line per interval", () => {
  const clock = new ManualClock();
  const throttle = new LogThrottle(5_000, () => clock.now(), { maxKeys: 100 });
  // 100 addresses fill the table: each gets its line.
  for (let i = 0; i < 100; i++) assert.equal(throttle.note(`10.0.0.${i}`), 1);
  // 10,000 more within the interval: one line for all of them, the table no larger.
  let lines = 0;
  for (let i = 0; i < 10_000; i++) if (throttle.note(`10.1.${i >> 8}.${i & 255}`) > 0) lines++;
  assert.equal(lines, 1);
  assert.equal(throttle.size, 100);
  // Known addresses are still throttled on their own.
  assert.equal(throttle.note("10.0.0.1"), 0);
  clock.advance(5_000);
  // The interval passed: the shared line counts the 9,999 held back and this one.
  assert.equal(throttle.note("10.2.0.1"), 10_000);
  // Every tracked key's interval had passed: they were forgotten to make room.
  assert.ok(throttle.size <= 100);
  assert.equal(throttle.note("10.2.0.2"), 1);
  assert.equal(throttle.note("10.2.0.1"), 0);
});

Deno.test("LogThrottle: a burst lets the first lines of an interval through, then counts", () => {
  const clock = new ManualClock();
  const throttle = new LogThrottle(5_000, () => clock.now(), { burst: 3 });
  assert.deepEqual([1, 2, 3, 4, 5].map(() => throttle.note("a")), [1, 1, 1, 0, 0]);
  clock.advance(5_000);
  assert.equal(throttle.note("a"), 3);
  assert.deepEqual([1, 2, 3].map(() => throttle.note("a")), [1, 1, 0]);
});
