import assert from "node:assert/strict";
import { isLockedError, withKvRetry } from "../../../actors/store/kv.ts";

const locked = () => new TypeError("database is locked");

/** A manual ms clock: `sleep` moves it by what was asked, plus any freeze planned for that sleep. */
function manualClock() {
  let t = 0;
  const freezes: number[] = [];
  return {
    now: () => t,
    advance: (ms: number) => void (t += ms),
    /** The next sleep ends `ms` late, as if the process had been stopped meanwhile. */
    freezeNextSleep: (ms: number) => void freezes.push(ms),
    sleep: (ms: number) => {
      t += ms + (freezes.shift() ?? 0);
      return Promise.resolve();
    },
  };
}

Deno.test("withKvRetry: this process frozen during a backoff longer than the budget does not exhaust it", async () => {
  const clock = manualClock();
  clock.freezeNextSleep(31_000);
  let calls = 0;
  // The other process lets go at 38 s on the clock: 31 s of it our own freeze, 7 s awake waiting.
  const value = await withKvRetry(() => {
    calls++;
    clock.advance(1_000); // each attempt waits 1 s inside SQLite
    return clock.now() >= 38_000 ? Promise.resolve("stored") : Promise.reject(locked());
  }, { now: clock.now, sleep: clock.sleep, attempts: 30, baseMs: 0 });
  assert.equal(value, "stored");
  assert.equal(calls, 7);
});

Deno.test("withKvRetry: a freeze inside an attempt is left out and named when the lock then times out", async () => {
  const clock = manualClock();
  let calls = 0;
  const error = await withKvRetry(() => {
    calls++;
    // The second attempt's 5 s wait for SQLite's lock lasts 36.2 s: the process was stopped 31.2 s.
    clock.advance(calls === 2 ? 36_200 : 1_000);
    return Promise.reject(locked());
  }, { now: clock.now, sleep: clock.sleep, attempts: 30, baseMs: 0 }).catch((e) => e);
  assert.ok(error instanceof Error);
  // Awake: 1 + 5 + 1 + 1 + 1 + 1 = 10 s over 6 attempts; the clock says 41.2 s.
  assert.equal(
    error.message,
    "the KV file stayed locked by another process for 10.0 s over 6 attempts (database is locked)" +
      " (this process was itself paused for 31.2 s meanwhile, not counted)",
  );
  assert.ok(isLockedError(error), "still a locked error for callers that test for one");
});

Deno.test("withKvRetry: a lock held past the budget without any freeze says so as before", async () => {
  const clock = manualClock();
  const error = await withKvRetry(() => {
    clock.advance(5_000); // SQLite's own full wait for the lock: no freeze
    return Promise.reject(locked());
  }, { now: clock.now, sleep: clock.sleep, baseMs: 0 }).catch((e) => e);
  assert.ok(error instanceof Error);
  assert.equal(
    error.message,
    "the KV file stayed locked by another process for 10.0 s over 2 attempts (database is locked)",
  );
});
