/** Background commits of an actor: the window, the store backlog, and failures. */

import assert from "node:assert/strict";
import { PendingWrites } from "../../../actors/runtime/pending_writes.ts";

function deferred(): { promise: Promise<void>; resolve(): void; reject(e: unknown): void } {
  let resolve!: () => void, reject!: (e: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Whether `p` settles within a few microtask turns (no timers involved). */
async function settlesNow(p: Promise<unknown>): Promise<boolean> {
  let settled = false;
  p.then(() => (settled = true), () => (settled = true));
  for (let i = 0; i < 10; i++) await Promise.resolve();
  return settled;
}

Deno.test("at its limit an actor waits for its oldest background commit only, not for all", async () => {
  const pending = new PendingWrites({ maxPending: 3, backlog: () => 0 });
  const commits = [deferred(), deferred(), deferred(), deferred()];
  await pending.add(commits[0]!.promise);
  await pending.add(commits[1]!.promise);
  const third = pending.add(commits[2]!.promise);
  assert.equal(await settlesNow(third), false, "three in the background: the third add waits");
  commits[0]!.resolve();
  assert.equal(await settlesNow(third), true, "the oldest landed: room for one more");
  assert.equal(pending.size, 2);
  // Still two in the background; the next add waits for the (new) oldest.
  const fourth = pending.add(commits[3]!.promise);
  assert.equal(await settlesNow(fourth), false);
  commits[1]!.resolve();
  assert.equal(await settlesNow(fourth), true);
  commits[2]!.resolve();
  commits[3]!.resolve();
  await pending.settle();
  assert.equal(pending.size, 0);
});

Deno.test("past the store's backlog an actor waits for all its background commits", async () => {
  let backlog = 0;
  const pending = new PendingWrites({ maxPending: 64, backlog: () => backlog, maxBacklog: 10 });
  const a = deferred(), b = deferred();
  await pending.add(a.promise);
  backlog = 11;
  const add = pending.add(b.promise);
  a.resolve();
  assert.equal(await settlesNow(add), false, "one is still committing");
  b.resolve();
  assert.equal(await settlesNow(add), true);
  assert.equal(pending.size, 0);
});

Deno.test("a background commit that fails is rethrown by the next add, once", async () => {
  const pending = new PendingWrites({ maxPending: 8, backlog: () => 0 });
  const failing = deferred();
  await pending.add(failing.promise);
  failing.reject(new Error("disk full"));
  await Promise.resolve();
  await assert.rejects(pending.add(Promise.resolve()), /disk full/);
  await pending.settle();
});
