/** The MSH-10s a connection carried (`CarriedControlIds`): what clashes, and its bounds. */

import assert from "node:assert/strict";
import { CarriedControlIds } from "../../../codecs/hl7v2/carried_ids.ts";

Deno.test("an MSH-10 carried for one message clashes for another message, not for the same one (a retry)", () => {
  const carried = new CarriedControlIds();
  assert.equal(carried.clashes("R1", "1"), false, "nothing carried yet");
  carried.note("R1", "1");
  carried.note("R2", "2");
  assert.equal(carried.clashes("R1", "1"), false);
  assert.equal(carried.clashes("R1", "3"), true);
  assert.equal(carried.clashes("R2", "3"), true, "not only the last one");
  assert.equal(carried.clashes("R3", "3"), false);
});

Deno.test("the oldest MSH-10s are forgotten beyond 1024 of them or 64 Ki characters, never the newest", () => {
  const carried = new CarriedControlIds();
  for (let n = 0; n <= 1024; n++) carried.note(`ID${n}`, `${n}`);
  assert.equal(carried.clashes("ID0", "x"), false, "the oldest of 1025 is forgotten");
  assert.equal(carried.clashes("ID1", "x"), true);
  // Noted again, an MSH-10 counts as new: ID1 outlives ID2.
  carried.note("ID1", "1");
  carried.note("ID-next", "n");
  assert.equal(carried.clashes("ID2", "x"), false);
  assert.equal(carried.clashes("ID1", "x"), true);
  // A very long MSH-10 pushes out the older ones by their length, and is itself kept.
  const long = "L".repeat(70_000);
  carried.note(long, "long");
  assert.equal(carried.clashes(long, "x"), true);
  assert.equal(carried.clashes("ID-next", "x"), false);
  carried.note("short", "s");
  assert.equal(carried.clashes(long, "x"), false, "the long one goes when another comes");
  assert.equal(carried.clashes("short", "x"), true);
});
