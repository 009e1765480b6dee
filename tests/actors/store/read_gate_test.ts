/** The read gate: how many reads run at once, in which order the others get their turn. */

import assert from "node:assert/strict";
import { ReadGate } from "../../../actors/store/read_gate.ts";

/** A read the test ends when it chooses. */
function heldRead(): { promise: Promise<string>; end(value: string): void; fail(e: Error): void } {
  let end!: (value: string) => void, fail!: (e: Error) => void;
  const promise = new Promise<string>((resolve, reject) => {
    end = resolve;
    fail = reject;
  });
  return { promise, end, fail };
}

/** Lets every queued promise reaction run. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 0));

Deno.test("a read gate runs at most its limit of reads at once and the next in order as each ends", async () => {
  const gate = new ReadGate(2);
  const reads = Array.from({ length: 5 }, heldRead);
  const started: number[] = [];
  const results = reads.map((r, i) =>
    gate.run(() => {
      started.push(i);
      return r.promise;
    })
  );
  await settle();
  assert.deepEqual(started, [0, 1]);
  assert.equal(gate.running, 2);
  assert.equal(gate.waiting, 3);
  assert.equal(gate.busy, true);

  reads[1]!.end("one");
  assert.equal(await results[1], "one");
  await settle();
  assert.deepEqual(started, [0, 1, 2], "the first in line took the slot that came free");
  assert.equal(gate.running, 2);

  reads[0]!.end("zero");
  reads[2]!.end("two");
  await Promise.all([results[0], results[2]]);
  await settle();
  assert.deepEqual(started, [0, 1, 2, 3, 4]);
  assert.equal(gate.waiting, 0);

  reads[3]!.end("three");
  reads[4]!.end("four");
  assert.deepEqual(await Promise.all(results), ["zero", "one", "two", "three", "four"]);
  assert.equal(gate.running, 0);
  assert.equal(gate.busy, false);
});

Deno.test("a read that fails gives its slot to the next and its error to its caller", async () => {
  const gate = new ReadGate(1);
  const first = heldRead();
  const failing = gate.run(() => first.promise);
  let secondRan = false;
  const second = gate.run(() => {
    secondRan = true;
    return Promise.resolve("after");
  });
  await settle();
  assert.equal(secondRan, false);
  first.fail(new Error("KV went away"));
  await assert.rejects(failing, /KV went away/);
  assert.equal(await second, "after");
  assert.equal(gate.running, 0);

  // A read that throws before returning a promise frees its slot too.
  await assert.rejects(
    gate.run(() => {
      throw new Error("bad key");
    }),
    /bad key/,
  );
  assert.equal(gate.running, 0);
  assert.equal(await gate.run(() => Promise.resolve(7)), 7);
});

Deno.test("a read gate refuses a limit below one", () => {
  for (const limit of [0, -1, 1.5, NaN]) {
    assert.throws(() => new ReadGate(limit), /a read gate needs a limit of at least 1/);
  }
});
