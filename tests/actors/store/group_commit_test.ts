/** The group committer: what shares a commit, what waits for the next, what is refused alone. */

import assert from "node:assert/strict";
import { GroupCommitter, type Write } from "../../../actors/store/mod.ts";
import { type FaultyKv, openFaultyKv } from "./fixtures/faulty_kv.ts";

/** Runs `fn` on a fresh in-memory KV (see the fixture), closed afterwards. */
async function withKv(fn: (faulty: FaultyKv, kv: Deno.Kv) => Promise<void>): Promise<void> {
  const faulty = await openFaultyKv();
  try {
    await fn(faulty, faulty.kv);
  } finally {
    faulty.kv.close();
  }
}

Deno.test("group commit: writes made in one turn share one atomic commit", async () => {
  await withKv(async (faulty, kv) => {
    const committer = new GroupCommitter(kv);
    const outcomes = await Promise.all(
      [1, 2, 3, 4].map((n) => committer.commit({ sets: [{ key: ["k", n], value: n }], bytes: 8 })),
    );
    assert.equal(faulty.commits, 1);
    assert.equal(committer.batches, 1);
    assert.equal(committer.writes, 4);
    assert.ok(
      outcomes.every((o) => o.ok && o.versionstamp === (outcomes[0] as typeof o).versionstamp),
    );
    for (const n of [1, 2, 3, 4]) assert.equal((await kv.get(["k", n])).value, n);
  });
});

Deno.test("group commit: writes made while a commit is in flight go in the next, in order", async () => {
  await withKv(async (faulty, kv) => {
    const committer = new GroupCommitter(kv);
    const first = committer.commit({ sets: [{ key: ["seq"], value: 1 }], bytes: 8 });
    // The first batch leaves on a microtask; these come after it has left.
    await Promise.resolve();
    await Promise.resolve();
    const later = [2, 3, 4].map((n) =>
      committer.commit({
        sets: [{ key: ["seq"], value: n }, { key: ["n", n], value: n }],
        bytes: 8,
      })
    );
    assert.equal(committer.waiting, 3);
    const all = await Promise.all([first, ...later]);
    assert.equal(faulty.commits, 2);
    assert.equal(committer.waiting, 0);
    const stamps = all.map((o) => (o.ok ? o.versionstamp : ""));
    assert.ok(stamps[0]! < stamps[1]!);
    assert.equal(stamps[1], stamps[3]);
    // Within a batch the last set of a key wins, as if the writes were made one by one.
    assert.equal((await kv.get(["seq"])).value, 4);
  });
});

Deno.test("group commit: a write checking a key the batch changes waits for the next batch", async () => {
  await withKv(async (faulty, kv) => {
    await kv.set(["head"], "entry");
    const head = await kv.get(["head"]);
    const committer = new GroupCommitter(kv);
    // Two takers of one queue head, each checking the version they read: only one may win.
    const take = (by: string) =>
      committer.commit({
        checks: [{ key: ["head"], versionstamp: head.versionstamp }],
        deletes: [["head"]],
        sets: [{ key: ["taken", by], value: true }],
        bytes: 16,
      });
    const [a, b] = await Promise.all([take("a"), take("b")]);
    assert.equal(a.ok, true);
    assert.deepEqual(b, { ok: false, reason: "check" });
    assert.equal(faulty.commits, 2);
    assert.equal((await kv.get(["taken", "a"])).value, true);
    assert.equal((await kv.get(["taken", "b"])).value, null);
  });
});

Deno.test("group commit: a failed check refuses only its own write in a shared batch", async () => {
  await withKv(async (_faulty, kv) => {
    await kv.set(["x"], 1);
    const committer = new GroupCommitter(kv);
    const [stale, fine1, fine2] = await Promise.all([
      committer.commit({
        checks: [{ key: ["x"], versionstamp: null }], // x exists: this check fails
        sets: [{ key: ["stale"], value: 1 }],
        bytes: 8,
      }),
      committer.commit({ sets: [{ key: ["fine", 1], value: 1 }], bytes: 8 }),
      committer.commit({ sets: [{ key: ["fine", 2], value: 2 }], bytes: 8 }),
    ]);
    assert.deepEqual(stale, { ok: false, reason: "check" });
    assert.equal(fine1.ok && fine2.ok, true);
    assert.equal((await kv.get(["stale"])).value, null);
    assert.equal((await kv.get(["fine", 2])).value, 2);
  });
});

Deno.test("group commit: a value KV cannot store refuses that write alone", async () => {
  await withKv(async (_faulty, kv) => {
    const committer = new GroupCommitter(kv);
    const results = await Promise.allSettled([
      committer.commit({ sets: [{ key: ["a"], value: 1 }], bytes: 8 }),
      committer.commit({ sets: [{ key: ["bad"], value: () => 1 }], bytes: 8 }),
      committer.commit({ sets: [{ key: ["b"], value: 2 }], bytes: 8 }),
    ]);
    assert.equal(results[0].status, "fulfilled");
    assert.equal(results[1].status, "rejected");
    assert.equal(results[2].status, "fulfilled");
    assert.equal((await kv.get(["a"])).value, 1);
    assert.equal((await kv.get(["b"])).value, 2);
    assert.equal((await kv.get(["bad"])).versionstamp, null);
    // The committer goes on batching afterwards.
    await Promise.all([
      committer.commit({ sets: [{ key: ["c"], value: 3 }], bytes: 8 }),
      committer.commit({ sets: [{ key: ["d"], value: 4 }], bytes: 8 }),
    ]);
    assert.equal((await kv.get(["d"])).value, 4);
  });
});

Deno.test("group commit: a batch is closed at the byte and mutation limits", async () => {
  await withKv(async (faulty, kv) => {
    const committer = new GroupCommitter(kv, { maxBytes: 100, maxMutations: 5 });
    const bytes = [60, 60, 30]; // 60 + 60 > 100: the second write opens a batch of its own
    await Promise.all(
      bytes.map((b, i) => committer.commit({ sets: [{ key: ["b", i], value: i }], bytes: b })),
    );
    assert.equal(faulty.commits, 2);
    const three = (i: number) => ({
      sets: [0, 1, 2].map((j) => ({ key: ["m", i, j], value: j })),
      bytes: 1,
    });
    await Promise.all([committer.commit(three(1)), committer.commit(three(2))]); // 3 + 3 > 5
    assert.equal(faulty.commits, 4);
    await assert.rejects(
      committer.commit({
        sets: [0, 1, 2, 3, 4, 5].map((j) => ({ key: ["x", j], value: j })),
        bytes: 1,
      }),
      RangeError,
    );
  });
});

Deno.test("group commit: sums on one counter become one mutation per batch", async () => {
  await withKv(async (_faulty, kv) => {
    const committer = new GroupCommitter(kv);
    const depth = ["qdepth", "out"];
    await Promise.all([
      committer.commit({ sums: [{ key: depth, n: 3n }], bytes: 8 }),
      committer.commit({ sums: [{ key: depth, n: -1n }], bytes: 8 }),
      committer.commit({ sums: [{ key: depth, n: 2n }], bytes: 8 }),
    ]);
    assert.equal(committer.mutations, 1);
    assert.equal((await kv.get<Deno.KvU64>(depth)).value?.value, 4n);
    await committer.commit({ sums: [{ key: depth, n: -4n }], bytes: 8 });
    assert.equal((await kv.get<Deno.KvU64>(depth)).value?.value, 0n);
  });
});

Deno.test("group commit: a commit retried while the file is locked stores every write once", async () => {
  await withKv(async (faulty, kv) => {
    const committer = new GroupCommitter(kv);
    faulty.failNext.push(new Error("database is locked"), new Error("database is locked"));
    const outcomes = await Promise.all([
      committer.commit({
        sets: [{ key: ["r", 1], value: 1 }],
        sums: [{ key: ["c"], n: 1n }],
        bytes: 8,
      }),
      committer.commit({
        sets: [{ key: ["r", 2], value: 2 }],
        sums: [{ key: ["c"], n: 1n }],
        bytes: 8,
      }),
    ]);
    assert.ok(outcomes.every((o) => o.ok));
    assert.equal(faulty.commits, 3);
    assert.equal((await kv.get(["r", 2])).value, 2);
    // The counter was summed once, by the attempt that committed.
    assert.equal((await kv.get<Deno.KvU64>(["c"])).value?.value, 2n);
  });
});

Deno.test("a commit refused by its check does not tell the store's health that KV takes writes", async () => {
  const kv = await Deno.openKv(":memory:");
  const seen: string[] = [];
  const committer = new GroupCommitter(kv, {}, {
    succeeded: () => seen.push("succeeded"),
    failed: () => seen.push("failed"),
  });
  try {
    // On a full disk KV still answers a failed check: that answer wrote nothing.
    const refused = await committer.commit({
      checks: [{ key: ["x"], versionstamp: "00000000000000000001" }],
      sets: [{ key: ["y"], value: 1 }],
      bytes: 16,
    });
    assert.equal(refused.ok, false);
    assert.deepEqual(seen, []);
    assert.equal(
      (await committer.commit({ sets: [{ key: ["y"], value: 1 }], bytes: 16 })).ok,
      true,
    );
    assert.deepEqual(seen, ["succeeded"]);
  } finally {
    kv.close();
  }
});

const LEASE = ["lease", "actor-1"];

/** A completion-like write `n`: the lease check (held at `versionstamp`) and a check of its own. */
function fenced(n: number, versionstamp: string): Write {
  return {
    checks: [{ key: LEASE, versionstamp }, { key: ["entry", `${n}`], versionstamp: null }],
    sets: [{ key: ["done", `${n}`], value: n }],
    bytes: 8,
  };
}

Deno.test("group commit: a check several writes of a batch make is made once, and refuses each of them when it fails", async () => {
  await withKv(async (faulty, kv) => {
    const held = await kv.set(LEASE, "node-a");
    const committer = new GroupCommitter(kv);
    // Three completions under one lease, each with its own check too: 1 + 3 checks, not 6.
    const outcomes = await Promise.all(
      [1, 2, 3].map((n) => committer.commit(fenced(n, held.versionstamp))),
    );
    assert.ok(outcomes.every((o) => o.ok));
    assert.equal(faulty.commits, 1);
    assert.equal(faulty.checks, 4);
    for (const n of [1, 2, 3]) assert.equal((await kv.get(["done", `${n}`])).value, n);

    // Another node took the lease: the one shared check fails, and every write under it is refused.
    await kv.set(LEASE, "node-b");
    const stale = await Promise.all(
      [4, 5].map((n) => committer.commit(fenced(n, held.versionstamp))),
    );
    assert.deepEqual(stale, [{ ok: false, reason: "check" }, { ok: false, reason: "check" }]);
    for (const n of [4, 5]) assert.equal((await kv.get(["done", `${n}`])).value, null);
  });
});

Deno.test("group commit: a check shared by writes counts once against the batch's check limit", async () => {
  await withKv(async (faulty, kv) => {
    const held = await kv.set(LEASE, "node-a");
    // A limit of 6 checks: five writes, each checking the lease and a key of its own, fit in one
    // batch (1 + 5 checks); counted one by one (10) they would need two.
    const committer = new GroupCommitter(kv, { maxChecks: 6 });
    const outcomes = await Promise.all(
      [1, 2, 3, 4, 5].map((n) => committer.commit(fenced(n, held.versionstamp))),
    );
    assert.ok(outcomes.every((o) => o.ok));
    assert.equal(faulty.commits, 1);
    assert.equal(faulty.checks, 6);
  });
});

Deno.test("group commit: keys that end alike are told apart, in the keys a batch changes and in its checks", async () => {
  await withKv(async (faulty, kv) => {
    const committer = new GroupCommitter(kv);
    const other = await kv.set(["b", "x"], "b");
    // The second write checks ["b", "x"], which ends like the ["a", "x"] the first one sets but is
    // another key: both share a batch. Its check of ["c", "x"] (absent) is a check of its own.
    const outcomes = await Promise.all([
      committer.commit({ sets: [{ key: ["a", "x"], value: 1 }], bytes: 8 }),
      committer.commit({
        checks: [
          { key: ["b", "x"], versionstamp: other.versionstamp },
          { key: ["c", "x"], versionstamp: null },
        ],
        sets: [{ key: ["d", "x"], value: 2 }],
        bytes: 8,
      }),
    ]);
    assert.ok(outcomes.every((o) => o.ok));
    assert.equal(faulty.commits, 1);
    assert.equal(faulty.checks, 2);

    // The same key checked at two versions is two checks, and the stale one refuses its write.
    const [fresh, stale] = await Promise.all([
      committer.commit({
        checks: [{ key: ["b", "x"], versionstamp: other.versionstamp }],
        sets: [{ key: ["e", "x"], value: 3 }],
        bytes: 8,
      }),
      committer.commit({
        checks: [{ key: ["b", "x"], versionstamp: null }],
        sets: [{ key: ["f", "x"], value: 4 }],
        bytes: 8,
      }),
    ]);
    assert.equal(fresh.ok, true);
    assert.deepEqual(stale, { ok: false, reason: "check" });
    assert.equal((await kv.get(["e", "x"])).value, 3);
    assert.equal((await kv.get(["f", "x"])).value, null);
  });
});

Deno.test("group commit: onCommitted is told each commit's time in KV, a refused check's too", async () => {
  await withKv(async (faulty, kv) => {
    const committer = new GroupCommitter(kv);
    const told: number[] = [];
    committer.onCommitted = (seconds) => told.push(seconds);
    await Promise.all(
      [1, 2, 3].map((n) => committer.commit({ sets: [{ key: ["t", n], value: n }], bytes: 8 })),
    );
    assert.equal(told.length, 1, "one batch, one commit");
    const refused = await committer.commit({
      checks: [{ key: ["t", 1], versionstamp: null }],
      sets: [{ key: ["t", 1], value: 0 }],
      bytes: 8,
    });
    assert.equal(refused.ok, false);
    assert.equal(told.length, faulty.commits);
    assert.equal(told.length, 2);
    assert.ok(told.every((s) => s >= 0 && s < 60), `${told}`);
  });
});

/**
 * A KV that only builds atomic operations (all the committer asks of it), recording when each
 * operation is given a value and sent, and holding each commit until the test answers it.
 */
function gatedKv() {
  const events: string[] = [];
  const answers: (() => void)[] = [];
  let sent = 0;
  const kv = {
    atomic() {
      const op = {
        check: () => op,
        delete: () => op,
        sum: () => op,
        set(key: Deno.KvKey) {
          events.push(`set ${key.join("/")}`);
          return op;
        },
        commit() {
          const n = ++sent;
          events.push(`sent ${n}`);
          return new Promise<Deno.KvCommitResult>((resolve) =>
            answers.push(() => resolve({ ok: true, versionstamp: `${n}`.padStart(20, "0") }))
          );
        },
      };
      return op;
    },
  } as unknown as Deno.Kv;
  return { kv, events, answer: () => answers.shift()!() };
}

Deno.test("group commit: writes made while a commit is in flight are serialized then, not after its answer", async () => {
  const { kv, events, answer } = gatedKv();
  const committer = new GroupCommitter(kv);
  const first = committer.commit({ sets: [{ key: ["a"], value: 1 }], bytes: 8 });
  await Promise.resolve(); // the first batch leaves on a microtask
  const later = [committer.commit({ sets: [{ key: ["b"], value: 2 }], bytes: 8 })];
  later.push(committer.commit({ sets: [{ key: ["c"], value: 3 }], bytes: 8 }));
  // The next batch's values were given to its operation while KV holds the first commit: once
  // it is answered, only sending is left.
  assert.deepEqual(events, ["set a", "sent 1", "set b", "set c"]);
  answer();
  await first;
  assert.deepEqual(events, ["set a", "sent 1", "set b", "set c", "sent 2"]);
  answer();
  await Promise.all(later);
  assert.equal(committer.batches, 2);
  assert.equal(committer.writes, 3);
});

Deno.test("group commit: the next batch is sent before the writers of the last one are told", async () => {
  const { kv, events, answer } = gatedKv();
  const committer = new GroupCommitter(kv);
  const first = committer.commit({ sets: [{ key: ["a"], value: 1 }], bytes: 8 })
    .then(() => events.push("told a"));
  await Promise.resolve();
  const second = committer.commit({ sets: [{ key: ["b"], value: 2 }], bytes: 8 })
    .then(() => events.push("told b"));
  answer();
  await first;
  // What a writer does once told (an ACK to its socket) runs while KV commits the next batch.
  assert.deepEqual(events, ["set a", "sent 1", "set b", "sent 2", "told a"]);
  answer();
  await second;
  assert.deepEqual(events.slice(-1), ["told b"]);
});
