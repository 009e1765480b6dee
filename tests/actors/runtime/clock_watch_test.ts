/**
 * The clock-step watch: a wall-clock step over a second (beyond the monotonic clock) is logged
 * once, counted, makes the `clock` health check degraded for ten minutes, and a forward one over
 * an hour is remembered for a day (the retention sweep's hold). A ManualClock plays the step.
 */

import assert from "node:assert/strict";
import { ManualClock } from "../../../actors/runtime/clock.ts";
import { ClockWatch } from "../../../actors/runtime/clock_watch.ts";
import { memoryLogger } from "../../../actors/runtime/log.ts";

const HOUR = 3_600_000;

Deno.test("clock watch: a step is logged once with its offset and direction, counted, and degrades health for 10 minutes", () => {
  const clock = new ManualClock();
  const log = memoryLogger();
  const watch = new ClockWatch({ clock, log });
  const seen: string[] = [];
  watch.onStep((s) => seen.push(`${s.direction}:${s.offsetMs}`));
  clock.advance(5_000);
  assert.equal(watch.check(), undefined, "no step");
  clock.stepWall(800); // within a second: a slew, not a step
  clock.advance(5_000);
  assert.equal(watch.check(), undefined);
  assert.deepEqual(watch.health(), { name: "clock", ok: true });

  clock.stepWall(2 * HOUR);
  clock.advance(5_000);
  const step = watch.check();
  assert.equal(step?.direction, "forward");
  assert.equal(step?.offsetMs, 2 * HOUR);
  clock.advance(5_000);
  assert.equal(watch.check(), undefined, "reported once");
  const warned = log.lines.filter((l) => l.includes(" clock.stepped "));
  assert.equal(warned.length, 1);
  assert.match(warned[0]!, /WARN/);
  assert.match(warned[0]!, /offsetMs=7200000 direction=forward/);

  clock.stepWall(-30 * 60_000);
  clock.advance(5_000);
  assert.equal(watch.check()?.direction, "backward");
  assert.match(log.lines.at(-1)!, /offsetMs=-1800000 direction=backward/);
  assert.deepEqual(seen, [`forward:${2 * HOUR}`, "backward:-1800000"]);
  assert.deepEqual(watch.counts, { forward: 1, backward: 1 });

  const degraded = watch.health();
  assert.equal(degraded.ok, true, "reported, not failing");
  assert.equal(degraded.degraded, true);
  assert.match(degraded.reason!, /stepped backward by 1800000 ms/);
  clock.advance(10 * 60_000 - 1);
  assert.equal(watch.health().degraded, true);
  clock.advance(1);
  assert.deepEqual(watch.health(), { name: "clock", ok: true });
});

Deno.test("clock watch: a forward step over an hour is remembered for 24 hours of monotonic time", () => {
  const clock = new ManualClock();
  const watch = new ClockWatch({ clock, log: memoryLogger() });
  clock.stepWall(30 * 60_000);
  clock.advance(5_000);
  watch.check();
  assert.equal(watch.forwardStepWithin(24 * HOUR, HOUR), undefined, "30 min: under an hour");
  clock.stepWall(31 * 24 * HOUR);
  clock.advance(5_000);
  watch.check();
  assert.equal(watch.forwardStepWithin(24 * HOUR, HOUR)?.offsetMs, 31 * 24 * HOUR);
  // Stepping back again does not undo it: the clock was wrong at one time or the other.
  clock.stepWall(-31 * 24 * HOUR);
  clock.advance(5_000);
  watch.check();
  assert.equal(watch.forwardStepWithin(24 * HOUR, HOUR)?.offsetMs, 31 * 24 * HOUR);
  clock.advance(24 * HOUR - 10_000);
  assert.ok(watch.forwardStepWithin(24 * HOUR, HOUR));
  clock.advance(5_000);
  assert.equal(watch.forwardStepWithin(24 * HOUR, HOUR), undefined);
});

Deno.test("clock watch: its timer is unref'd, started once and stopped by stop()", () => {
  const clock = new ManualClock();
  const log = memoryLogger();
  const watch = new ClockWatch({ clock, log });
  watch.onStep(() => {
    throw new Error("listener broke");
  });
  watch.start();
  watch.start(); // idempotent: one timer
  assert.throws(() => {
    clock.stepWall(HOUR);
    watch.check();
  }, /listener broke/);
  watch.stop();
  watch.stop();
  // The test's sanitizer fails it if a timer outlived stop().
});
