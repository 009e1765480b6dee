import assert from "node:assert/strict";
import { isLockedError, withKvRetry } from "../../../actors/store/kv.ts";

const locked = () => new TypeError("database is locked");

Deno.test("withKvRetry retries 'database is locked' until the operation succeeds", async () => {
  let calls = 0;
  const value = await withKvRetry(() => {
    calls++;
    return calls < 3 ? Promise.reject(locked()) : Promise.resolve("stored");
  });
  assert.equal(value, "stored");
  assert.equal(calls, 3);
});

Deno.test("withKvRetry does not retry other errors", async () => {
  let calls = 0;
  await assert.rejects(
    withKvRetry(() => {
      calls++;
      return Promise.reject(new Error("database or disk is full"));
    }),
    /disk is full/,
  );
  assert.equal(calls, 1);
});

Deno.test("withKvRetry starts no attempt after its time budget, and says how long the file stayed locked", async () => {
  // Each attempt takes 100 ms, as each of Deno KV's takes up to 5 s waiting for SQLite's lock.
  // A 600 ms budget: a loaded machine whose timers run late still fits a second attempt in it
  // (with 40 ms attempts in 150 ms, a first timer 110 ms late left one); no attempt is faster
  // than 100 ms, so at most 7 start (0, 100, ..., 600 ms). Without the budget all 1,000 would.
  let calls = 0;
  const started = Date.now();
  const error = await withKvRetry(async () => {
    calls++;
    await new Promise((r) => setTimeout(r, 100));
    throw locked();
  }, { budgetMs: 600, attempts: 1000 }).catch((e) => e);
  const took = Date.now() - started;
  assert.ok(error instanceof Error);
  assert.match(error.message, /stayed locked by another process for \d+\.\d s over \d attempts/);
  assert.ok(isLockedError(error), "still a locked error for callers that test for one");
  assert.ok(calls >= 2 && calls <= 7, `${calls} attempts in a 600 ms budget of 100 ms attempts`);
  // 1,000 attempts of 100 ms would take 100 s.
  assert.ok(took < 5_000, `gave up after ${took} ms`);
});

Deno.test("withKvRetry gives up after its attempts even within the budget", async () => {
  let calls = 0;
  await assert.rejects(
    withKvRetry(() => {
      calls++;
      return Promise.reject(locked());
    }, { attempts: 4, baseMs: 1, maxMs: 2 }),
    /over 4 attempts/,
  );
  assert.equal(calls, 4);
});
