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
  // Each attempt takes 40 ms, as each of Deno KV's takes up to 5 s waiting for SQLite's lock.
  let calls = 0;
  const started = Date.now();
  const error = await withKvRetry(async () => {
    calls++;
    await new Promise((r) => setTimeout(r, 40));
    throw locked();
  }, { budgetMs: 150, attempts: 1000 }).catch((e) => e);
  const took = Date.now() - started;
  assert.ok(error instanceof Error);
  assert.match(error.message, /stayed locked by another process for 0\.\d s over \d attempts/);
  assert.ok(isLockedError(error), "still a locked error for callers that test for one");
  assert.ok(calls >= 2 && calls <= 5, `${calls} attempts in a 150 ms budget of 40 ms attempts`);
  assert.ok(took < 1_000, `gave up after ${took} ms`);
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
