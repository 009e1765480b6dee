import assert from "node:assert/strict";
import { settlesWithin } from "../../../actors/runtime/settles_within.ts";

Deno.test("settlesWithin: true once the promise settles either way (a rejection observed, not rethrown), false at the bound", async () => {
  assert.equal(await settlesWithin(Promise.resolve(1), 10_000), true);
  assert.equal(await settlesWithin(Promise.reject(new Error("gone")), 10_000), true);
  // Never settles: the bound answers (and its timer does not keep the test alive).
  assert.equal(await settlesWithin(new Promise(() => {}), 20), false);
});
