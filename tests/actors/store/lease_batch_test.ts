/**
 * Batched lease acquisition (a takeover of many actors): several leases per atomic operation,
 * the ones held by a live node left alone, one by one when a batch's check fails, and within a
 * self-hosted denokv's 10-check limit. Real KV files, and the KV Connect test server.
 */

import assert from "node:assert/strict";
import { ACQUIRE_BATCH, Leases } from "../../../actors/store/leases.ts";
import { startKvConnectServer } from "../../helpers/kv_connect_server.ts";
import { tempDir } from "../../helpers/temp.ts";

const TOKEN = "lease-batch-test-token-0123";

async function withKvFile(fn: (kv: Deno.Kv) => Promise<void>): Promise<void> {
  await using dir = await tempDir({ prefix: "lease-batch-" });
  const kv = await Deno.openKv(`${dir.path}/engine.kv`);
  try {
    await fn(kv);
  } finally {
    kv.close();
  }
}

/** True when a commit fenced by `leases`' token for `actor` lands. */
async function fencedCommitLands(kv: Deno.Kv, leases: Leases, actor: string): Promise<boolean> {
  const fence = leases.fence(actor);
  if (!fence) return false;
  return (await kv.atomic().check(fence).set(["probe", actor], 1).commit()).ok;
}

Deno.test("acquireMany takes a batch in one commit and leaves the lease another node holds", async () => {
  await withKvFile(async (kv) => {
    let now = 1_000_000;
    let elapsed = 0;
    const a = new Leases(kv, "node-a", { ttlMs: 10_000, now: () => now, elapsed: () => elapsed });
    const b = new Leases(kv, "node-b", { ttlMs: 10_000, now: () => now, elapsed: () => elapsed });
    const actors = ["d1", "d2", "d3", "d4", "d5"];
    assert.equal(actors.length, ACQUIRE_BATCH);
    assert.equal(await a.acquire("d3"), true);
    const aToken = a.tokenOf("d3");
    assert.equal(await b.owner("d3"), "node-a", "node-b first sees node-a's renewal");
    now += 5_000; // node-a's lease on d3 still has 5 s to live
    elapsed += 5_000;

    const got = await b.acquireMany(actors);
    assert.deepEqual(got.sort(), ["d1", "d2", "d4", "d5"]);
    assert.equal(b.tokenOf("d3"), undefined);
    assert.equal(await b.owner("d3"), "node-a");
    assert.equal(a.tokenOf("d3"), aToken);
    assert.equal(await fencedCommitLands(kv, a, "d3"), true, "node-a's token still fences d3");
    // One commit took the four: each lease's token is that commit's versionstamp.
    const tokens = new Set(got.map((id) => b.tokenOf(id)));
    assert.equal(tokens.size, 1);
    for (const id of got) {
      assert.equal((await kv.get(["lease", id])).versionstamp, b.tokenOf(id));
      assert.equal(await b.owner(id), "node-b");
      assert.equal(b.valid(id), true);
      assert.equal(await fencedCommitLands(kv, b, id), true);
    }
    // Renewals keep the batch-taken leases and their tokens.
    assert.deepEqual(await b.renew(got), []);
    for (const id of got) assert.equal(b.tokenOf(id), [...tokens][0]);

    // Once node-a's lease has expired, node-b takes d3 too; node-a's late commits are fenced.
    now += 5_001;
    elapsed += 5_001;
    assert.deepEqual(await b.acquireMany(actors), [...got, "d3"]);
    assert.equal(await fencedCommitLands(kv, a, "d3"), false, "the old owner is fenced");
    assert.equal(await a.acquire("d3"), false);
  });
});

Deno.test("acquireMany falls back to one by one when a lease changes between read and commit", async () => {
  await withKvFile(async (kv) => {
    const a = new Leases(kv, "node-a", { ttlMs: 10_000 });
    // node-b's KV: the same real KV, but just before node-b's first batch commit, node-a takes d2
    // (a race another process can win at any time).
    let raced = false;
    const racing = new Proxy(kv, {
      get(target, prop) {
        if (prop !== "atomic") {
          const value = Reflect.get(target, prop, target);
          return typeof value === "function" ? value.bind(target) : value;
        }
        return () => {
          const op = target.atomic();
          const commit = op.commit.bind(op);
          op.commit = async () => {
            if (!raced) {
              raced = true;
              assert.equal(await a.acquire("d2"), true);
            }
            return await commit();
          };
          return op;
        };
      },
    });
    const b = new Leases(racing, "node-b", { ttlMs: 10_000 });
    const got = await b.acquireMany(["d1", "d2", "d3"]);
    assert.equal(raced, true);
    assert.deepEqual(got, ["d1", "d3"]);
    assert.equal(await b.owner("d2"), "node-a");
    assert.equal(await fencedCommitLands(kv, a, "d2"), true);
    for (const id of got) assert.equal(await fencedCommitLands(kv, b, id), true);
    assert.notEqual(b.tokenOf("d1"), b.tokenOf("d3"), "taken one by one, in commits of their own");
  });
});

Deno.test("acquireMany over KV Connect keeps within denokv's 10 checks per atomic", async () => {
  const server = await startKvConnectServer({ accessToken: TOKEN });
  Deno.env.set("DENO_KV_ACCESS_TOKEN", TOKEN);
  const kv = await Deno.openKv(server.url);
  try {
    const leases = new Leases(kv, "node-a", { ttlMs: 10_000 });
    const actors = Array.from({ length: 4 * ACQUIRE_BATCH + 2 }, (_, i) => `mllp-out:h:${i}`);
    const writes = server.stats.writes;
    const got = await leases.acquireMany(actors);
    assert.deepEqual(got, actors);
    // Five batches, one atomic write each (none refused and retried one by one).
    assert.equal(server.stats.writes - writes, Math.ceil(actors.length / ACQUIRE_BATCH));
    assert.equal(server.stats.tooManyChecks, 0);
    assert.ok(server.stats.maxChecksSeen <= 10, `${server.stats.maxChecksSeen} checks`);
    assert.deepEqual(await leases.renew(actors), []);
  } finally {
    kv.close();
    await server.close();
  }
});

Deno.test("renewals take as many leases a commit as the KV allows checks: 250 leases, 3 commits on a KV file with 100, 25 with 10", async () => {
  await withKvFile(async (kv) => {
    let commits = 0;
    const counting = new Proxy(kv, {
      get(target, prop) {
        const value = Reflect.get(target, prop, target);
        if (prop !== "atomic") return typeof value === "function" ? value.bind(target) : value;
        return () => {
          const op = target.atomic();
          const commit = op.commit.bind(op);
          op.commit = () => {
            commits++;
            return commit();
          };
          return op;
        };
      },
    });
    for (const [maxChecks, expected] of [[100, 3], [10, 25]] as const) {
      const actors = Array.from({ length: 250 }, (_, i) => `mllp-out:h${maxChecks}:${i}`);
      const leases = new Leases(counting, "node-a", { ttlMs: 10_000, maxChecks });
      assert.deepEqual((await leases.acquireMany(actors)).length, actors.length);
      commits = 0;
      assert.deepEqual(await leases.renew(actors), []);
      assert.equal(commits, expected, `${maxChecks} checks a commit`);
      for (const id of actors) assert.equal(leases.valid(id), true);
    }
  });
});
