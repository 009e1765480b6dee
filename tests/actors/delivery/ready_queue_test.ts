/**
 * The delivery actor's in-memory queue: handed-over and KV-read entries merge in seq order, the
 * cursor says what KV holds that memory knows, and nothing after an unread KV entry is sent.
 */

import assert from "node:assert/strict";
import fc from "fast-check";
import { HeldBudget, ReadyQueue } from "../../../actors/delivery/ready_queue.ts";
import type { QueueHead, QueueItem } from "../../../actors/store/requests.ts";
import type { MessageRecord } from "../../../actors/store/types.ts";

const record = { id: "m", receivedAt: 0, contentType: "x", size: 0, chunks: 0 } as
  & MessageRecord
  & Record<string, unknown>;

function head(seq: string): QueueHead {
  return {
    queue: "q",
    entry: { seq, messageId: `m${seq}`, logId: `l${seq}`, enqueuedAt: 0 },
    versionstamp: "v",
  };
}

function item(seq: string, payload?: Uint8Array): QueueItem {
  return { head: head(seq), record, log: null, ...(payload ? { payload } : {}) };
}

const seqOf = (n: number) => String(n).padStart(6, "0");

/** Reads `listed` (all of which fit) from KV into `q`. */
function readAll(q: ReadyQueue, listed: string[], complete: boolean) {
  q.beginRead();
  const heads = listed.map(head);
  const read = new Map(listed.filter((s) => !q.knows(s)).map((s) => [s, item(s)]));
  q.merge(heads, read, { advance: true, complete });
}

Deno.test("ready queue starts cold: handed-over entries wait for KV to be read first", () => {
  const q = new ReadyQueue();
  q.take([item(seqOf(5))]);
  assert.equal(q.length, 0, "not held while KV is unread");
  readAll(q, [seqOf(1), seqOf(5)], true);
  assert.equal(q.cold, false);
  assert.deepEqual([q.head?.head.entry.seq, q.length], [seqOf(1), 2]);
  assert.equal(q.headIsNext, true);
});

Deno.test("ready queue, warm, takes handed-over entries in seq order and moves the cursor", () => {
  const q = new ReadyQueue();
  readAll(q, [], true);
  q.take([item(seqOf(3)), item(seqOf(1)), item(seqOf(2)), item(seqOf(2))]);
  const seqs: string[] = [];
  while (q.head) seqs.push(q.shift()!.head.entry.seq);
  assert.deepEqual(seqs, [seqOf(1), seqOf(2), seqOf(3)]);
  assert.equal(q.cursor, seqOf(3));
  // Shifted but not forgotten: a KV scan listing them (completions not committed) skips them.
  q.merge([head(seqOf(1))], new Map(), { advance: false, complete: true });
  assert.equal(q.length, 0);
  q.forget(seqOf(1));
  assert.equal(q.knows(seqOf(1)), false);
});

Deno.test("ready queue, full, leaves new entries in KV and reads them back in order", () => {
  const q = new ReadyQueue({ maxItems: 2 });
  readAll(q, [], true);
  q.take([item(seqOf(1)), item(seqOf(2)), item(seqOf(3)), item(seqOf(4))]);
  assert.equal(q.length, 2);
  assert.equal(q.cold, true);
  assert.equal(q.cursor, seqOf(2));
  q.shift();
  // Cold: a newer handed-over entry is not held before the older ones in KV.
  q.take([item(seqOf(5))]);
  assert.equal(q.length, 1);
  assert.equal(q.room, 1);
  // Only what fits is read; the cursor stops before what was not.
  readAll(q, [seqOf(3), seqOf(4)].slice(0, q.room), false);
  assert.equal(q.cursor, seqOf(3));
  assert.equal(q.cold, true);
});

Deno.test("ready queue never lets the head out before an unread KV entry that precedes it", () => {
  // Any interleaving of hand-overs (some dropped when cold or full), KV reads (listed at one
  // moment, merged at a later one, as an await in between allows) and sends delivers every
  // entry exactly once, in seq order.
  fc.assert(
    fc.property(
      fc.array(fc.constantFrom("take", "list", "merge", "send"), { minLength: 1, maxLength: 200 }),
      fc.integer({ min: 1, max: 6 }),
      fc.integer({ min: 0, max: 4 }),
      (ops, maxItems, shared) => {
        // Some room beyond its own, shared with a queue that takes part of it.
        const budget = new HeldBudget({ maxItems: shared });
        const other = new ReadyQueue({ maxItems: 0, budget });
        readAll(other, [], true);
        other.take([item("x")]);
        const q = new ReadyQueue({ maxItems, budget });
        const kv: string[] = []; // the KV queue: committed, not yet completed
        let next = 0;
        const sent: string[] = [];
        let listing: { listed: string[]; complete: boolean } | undefined;
        const list = () => {
          q.beginRead();
          const after = q.cursor;
          const listed = kv.filter((s) => after === undefined || s > after).slice(0, 3);
          listing = { listed, complete: listed.length < 3 };
        };
        const merge = () => {
          if (!listing) return;
          const fresh = listing.listed.filter((s) => !q.knows(s) && !q.forgotten(s))
            .slice(0, q.room);
          q.merge(listing.listed.map(head), new Map(fresh.map((s) => [s, item(s)])), {
            advance: true,
            complete: listing.complete,
          });
          listing = undefined;
        };
        const step = (op: string) => {
          if (op === "take") {
            const seq = seqOf(next++);
            kv.push(seq);
            q.take([item(seq)]);
          } else if (op === "list") {
            if (!listing) list();
          } else if (op === "merge") {
            merge();
          } else if (q.headIsNext) {
            const done = q.shift()!.head.entry.seq;
            sent.push(done);
            kv.splice(kv.indexOf(done), 1);
            q.forget(done);
          }
        };
        for (const op of ops) step(op);
        // Drain: read and send until KV is empty.
        merge();
        for (let i = 0; i < 10_000 && kv.length > 0; i++) {
          if (q.headIsNext) step("send");
          else {
            list();
            merge();
          }
        }
        assert.deepEqual(kv, []);
        assert.deepEqual(sent, [...sent].sort());
        assert.equal(new Set(sent).size, next);
        other.shift();
        assert.deepEqual([budget.items, budget.bytes], [0, 0], "everything held went back");
      },
    ),
    { numRuns: 500 },
  );
});

Deno.test("ready queue reset forgets everything but the entries still completing", () => {
  const q = new ReadyQueue();
  readAll(q, [seqOf(1), seqOf(2)], true);
  q.shift();
  q.reset([seqOf(1)]);
  assert.equal(q.length, 0);
  assert.equal(q.cold, true);
  assert.equal(q.cursor, undefined);
  assert.equal(q.knows(seqOf(1)), true);
  assert.equal(q.knows(seqOf(2)), false);
});

Deno.test("ready queue: an entry completed while a KV read was under way does not come back", () => {
  const q = new ReadyQueue();
  readAll(q, [seqOf(1)], true);
  q.shift(); // delivered; its completion commits meanwhile
  q.beginRead(); // a scan lists KV before the completion is committed...
  q.forget(seqOf(1)); // ...the completion commits...
  // ...and the scan's list, taken before, still names the entry.
  q.merge([head(seqOf(1))], new Map([[seqOf(1), item(seqOf(1))]]), {
    advance: false,
    complete: true,
  });
  assert.equal(q.length, 0, "a delivered message would be sent again");
  // A read begun after the completion never lists it; nothing is kept for it.
  q.beginRead();
  assert.equal(q.forgotten(seqOf(1)), false);
});

Deno.test("ready queue: an entry handed over while a read was under way keeps it cold until read", () => {
  const q = new ReadyQueue();
  q.beginRead(); // activation: KV is listed (empty so far)...
  q.take([item(seqOf(1))]); // ...an entry commits and is handed over meanwhile: left to KV
  q.merge([], new Map(), { advance: true, complete: true });
  assert.equal(q.cold, true, "the read began before the entry was committed");
  q.take([item(seqOf(2))]); // a later one must not be held ahead of it
  assert.equal(q.length, 0);
  q.beginRead();
  q.merge(
    [head(seqOf(1)), head(seqOf(2))],
    new Map([[seqOf(1), item(seqOf(1))], [seqOf(2), item(seqOf(2))]]),
    {
      advance: true,
      complete: true,
    },
  );
  assert.equal(q.cold, false);
  assert.deepEqual([q.shift()?.head.entry.seq, q.shift()?.head.entry.seq], [seqOf(1), seqOf(2)]);
});

Deno.test("ready queues share a budget beyond their own bounds; each keeps its own whatever the others take", () => {
  const budget = new HeldBudget({ maxItems: 3, maxBytes: 1000 });
  const a = new ReadyQueue({ maxItems: 2, budget });
  const b = new ReadyQueue({ maxItems: 2, budget });
  readAll(a, [], true);
  readAll(b, [], true);
  a.take([1, 2, 3, 4, 5, 6].map((n) => item(seqOf(n))));
  assert.deepEqual([a.length, a.cold, budget.items], [5, true, 3], "2 of its own and the 3 shared");
  assert.deepEqual([b.room, b.full], [2, false], "b still has its own 2");
  b.take([item(seqOf(7)), item(seqOf(8)), item(seqOf(9))]);
  assert.deepEqual([b.length, b.cold], [2, true]);
  a.shift();
  assert.deepEqual([budget.items, budget.room, b.room], [2, 1, 1], "a's share shrinks as it sends");
  a.reset([]);
  assert.deepEqual([budget.items, a.room], [0, 5], "a reset gives its share back");
  // Payload bytes past a queue's own bound count too.
  const c = new ReadyQueue({ maxItems: 10, maxBytes: 100, budget });
  readAll(c, [], true);
  c.take([item(seqOf(10), new Uint8Array(80)), item(seqOf(11), new Uint8Array(80))]);
  assert.equal(budget.bytes, 60);
  c.shift();
  assert.equal(budget.bytes, 0);
});

Deno.test("ready queue: the entry sent leaves by its seq, not an entry that came before it meanwhile", () => {
  const q = new ReadyQueue();
  readAll(q, [], true);
  q.take([item(seqOf(2), new Uint8Array(5)), item(seqOf(3))]);
  // 2 is on the wire when 1, committed out of seq order, is handed over: it becomes the head.
  const sent = q.head!;
  q.take([item(seqOf(1), new Uint8Array(7))]);
  assert.equal(q.head?.head.entry.seq, seqOf(1));
  assert.equal(q.remove(sent.head.entry.seq), sent);
  assert.deepEqual([q.head?.head.entry.seq, q.length, q.knows(seqOf(2))], [seqOf(1), 2, true]);
  assert.equal(q.remove(seqOf(9)), undefined, "an entry it does not hold");
  assert.equal(q.remove(seqOf(1))?.head.entry.seq, seqOf(1));
  assert.equal(q.remove(seqOf(3))?.head.entry.seq, seqOf(3));
  assert.equal(q.length, 0);
});

Deno.test("ready queue keeps FIFO order and its counts through a long backlog, taken and sent interleaved", () => {
  // Long enough that the sent front is dropped from memory several times over, with entries
  // arriving out of order (a commit may land out of seq order) among them.
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.integer({ min: 0, max: 40 }), fc.integer({ min: 0, max: 40 })), {
        minLength: 200,
        maxLength: 400,
      }),
      (rounds) => {
        const budget = new HeldBudget({ maxItems: 100_000, maxBytes: 1 << 30 });
        const q = new ReadyQueue({ maxItems: 50, budget });
        readAll(q, [], true);
        const model: string[] = [];
        let next = 0;
        for (const [taken, toSend] of rounds) {
          const batch = Array.from({ length: taken }, () => seqOf(next++));
          // Swap the last two of the batch: the later one handed over first.
          if (batch.length >= 2) batch.push(...batch.splice(-2).reverse());
          q.take(batch.map((s) => item(s, new Uint8Array(3))));
          model.push(...batch);
          model.sort();
          for (let i = 0; i < toSend && model.length > 0; i++) {
            assert.equal(q.shift()?.head.entry.seq, model.shift());
          }
          assert.equal(q.length, model.length);
          assert.equal(q.head?.head.entry.seq, model[0]);
          assert.equal(budget.items, Math.max(0, model.length - 50));
          assert.equal(budget.bytes, 0, "3-byte payloads stay within the queue's own 8 MiB");
        }
        while (model.length > 0) assert.equal(q.shift()?.head.entry.seq, model.shift());
        assert.equal(q.shift(), undefined);
        assert.deepEqual([q.length, budget.items], [0, 0]);
      },
    ),
    { numRuns: 30 },
  );
});

Deno.test("ready queue: what follows the head is only entries held with their payload and certainly next", () => {
  const bytes = new Uint8Array([1]);
  const q = new ReadyQueue();
  readAll(q, [], true);
  q.take([1, 2, 3, 4, 5].map((n) => item(seqOf(n), n === 4 ? undefined : bytes)));
  const following = (seq: string, max: number) =>
    q.following(seq, max).map((i) => i.head.entry.seq);
  // Up to the first without its payload (read from KV when its turn comes), and at most `max`.
  assert.deepEqual(following(seqOf(1), 10), [seqOf(2), seqOf(3)]);
  assert.deepEqual(following(seqOf(1), 1), [seqOf(2)]);
  // From an entry other than the head too (one committed out of order may precede it).
  assert.deepEqual(following(seqOf(2), 10), [seqOf(3)]);
  assert.deepEqual(following(seqOf(5), 10), []);
  assert.deepEqual(following(seqOf(9), 10), [], "an entry not held: nothing follows it");

  // Cold: KV may hold unknown entries after the cursor; nothing past it follows.
  const cold = new ReadyQueue();
  cold.beginRead();
  const first = [1, 2, 3].map((n) => seqOf(n));
  cold.merge(first.map(head), new Map(first.map((s) => [s, item(s, bytes)])), {
    advance: true,
    complete: false,
  });
  assert.deepEqual([cold.cold, cold.cursor], [true, seqOf(3)]);
  // A look from the head finds 4 and 5 (the cursor stays: what lies between is not known).
  cold.beginRead();
  const scan = [1, 2, 3, 4, 5].map((n) => seqOf(n));
  cold.merge(scan.map(head), new Map(scan.slice(3).map((s) => [s, item(s, bytes)])), {
    advance: false,
    complete: true,
  });
  assert.equal(cold.length, 5);
  const after1 = cold.following(seqOf(1), 10).map((i) => i.head.entry.seq);
  assert.deepEqual(after1, [seqOf(2), seqOf(3)]);
});
