import assert from "node:assert/strict";
import { assertHeldBelow } from "./thread_hold.ts";

Deno.test("a thread-hold check passes at the first run under its bound and runs no more", async () => {
  const seen: number[] = [];
  const runs = await assertHeldBelow({
    boundMs: 100,
    run: (attempt) => {
      seen.push(attempt);
      return Promise.resolve({ held: attempt === 1 ? 140 : 30 });
    },
  });
  assert.deepEqual(seen, [1, 2]);
  assert.deepEqual(runs.map((r) => r.held), [140, 30]);
});

Deno.test("a thread-hold check fails naming every run's figure when no run stays under its bound", async () => {
  const seen: number[] = [];
  await assert.rejects(
    assertHeldBelow({
      boundMs: 100,
      what: "the engine's thread",
      run: (attempt) => {
        seen.push(attempt);
        return Promise.resolve({ held: 300 + attempt, detail: `gap ${attempt}` });
      },
    }),
    {
      message:
        "the engine's thread was held 100 ms or more at once in each of 3 runs: run 1: 301 ms (gap 1); run 2: 302 ms (gap 2); run 3: 303 ms (gap 3)",
    },
  );
  assert.deepEqual(seen, [1, 2, 3]);
});

Deno.test("a thread-hold check at its bound exactly counts as held", async () => {
  await assert.rejects(
    assertHeldBelow({ boundMs: 100, tries: 1, run: () => Promise.resolve({ held: 100 }) }),
    /in each of 1 runs: run 1: 100 ms/,
  );
});
