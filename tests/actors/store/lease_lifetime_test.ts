/**
 * A lease held by a live owner stays held however long the actor runs: renewals keep it, and
 * nothing in KV expires the owner key (its versionstamp is the fencing token every commit checks).
 */

import assert from "node:assert/strict";
import { Store } from "../../../actors/store/mod.ts";
import { tempDir } from "../../helpers/temp.ts";

Deno.test("renewals keep a lease and its fencing token for many lifetimes", async () => {
  await using dir = await tempDir({ prefix: "lease-life-" });
  const store = await Store.open({ path: `${dir.path}/engine.kv`, node: "n1" });
  try {
    // A 150 ms lifetime. (The owner key also used to carry a KV expiry of 4 lifetimes; KV expires
    // lazily, so that loss showed only after minutes under load, not within this test.)
    // Its elapsed time moves only between renewals: a commit slow on a loaded machine (over the
    // 100 ms a lease may go unrenewed) does not make the check of `valid` below a race. A renewal
    // that did not count still leaves `valid` false, 1.5 s after the take.
    let elapsed = performance.now();
    const leases = store.leases({ ttlMs: 150, elapsed: () => elapsed });
    assert.equal(await leases.acquire("mllp-out:h:1"), true);
    const token = leases.tokenOf("mllp-out:h:1");
    const until = performance.now() + 1_500;
    let renewals = 0;
    // At least ten lifetimes and ten renewals, however late a loaded machine's timers fire.
    while (performance.now() < until || renewals < 10) {
      await new Promise((r) => setTimeout(r, leases.renewEveryMs));
      elapsed = performance.now();
      assert.deepEqual(await leases.renew(["mllp-out:h:1"]), [], `lost after ${renewals} renewals`);
      renewals++;
    }
    // The fencing token did not change: commits fenced before still pass.
    assert.equal(leases.tokenOf("mllp-out:h:1"), token);
    assert.equal(leases.valid("mllp-out:h:1"), true);
  } finally {
    store.close();
  }
});

Deno.test("a stale release does not give up the lease a newer activation took", async () => {
  await using dir = await tempDir({ prefix: "lease-release-" });
  const store = await Store.open({ path: `${dir.path}/engine.kv`, node: "n1" });
  try {
    const leases = store.leases({ ttlMs: 10_000 });
    assert.equal(await leases.acquire("a"), true);
    const first = leases.tokenOf("a")!;
    await leases.release("a", first);
    assert.equal(await leases.acquire("a"), true);
    const second = leases.tokenOf("a")!;
    assert.notEqual(second, first);
    // The first activation's late release: the second keeps its lease.
    await leases.release("a", first);
    assert.equal(leases.tokenOf("a"), second);
    assert.deepEqual(await leases.renew(["a"]), []);
  } finally {
    store.close();
  }
});
