import assert from "node:assert/strict";
import { OwedCompletions } from "../../../actors/store/mod.ts";
import type { QueueHead } from "../../../actors/store/mod.ts";

const head = (queue: string, seq: string): QueueHead => ({
  queue,
  entry: { seq, messageId: `m${seq}`, logId: `l${seq}`, enqueuedAt: 0 },
  versionstamp: "00",
});
const attempt = { at: 1, outcome: "SUCCEEDED" as const, reason: "AA" };

Deno.test("owed completions are kept per queue, oldest first, until settled", () => {
  const owed = new OwedCompletions();
  owed.add(head("a", "0002"), attempt);
  owed.add(head("a", "0001"), attempt);
  owed.add(head("b", "0001"), attempt);
  assert.deepEqual(owed.of("a").map((o) => o.head.entry.seq), ["0001", "0002"]);
  assert.equal(owed.size, 3);
  owed.settled("a", "0001");
  owed.settled("a", "0009"); // never owed: nothing changes
  assert.deepEqual(owed.of("a").map((o) => o.head.entry.seq), ["0002"]);
  owed.settled("a", "0002");
  owed.settled("b", "0001");
  assert.deepEqual(owed.of("a"), []);
  assert.equal(owed.size, 0);
});
