/**
 * One take per lease: a second acquire of an actor whose lease this node is taking waits for that
 * take and renews it, instead of taking it again (a lease this node owns is takeable, for a
 * restart) and changing the fencing token under the activation the first take started.
 */

import assert from "node:assert/strict";
import { Leases } from "../../../actors/store/leases.ts";
import { keys } from "../../../actors/store/mod.ts";

/** An in-memory KV that calls `afterTake` once each commit setting `actor`'s lease key lands. */
async function takeWatchingKv(actor: string, afterTake: (n: number) => void): Promise<Deno.Kv> {
  const real = await Deno.openKv(":memory:");
  const leaseKey = JSON.stringify(keys.lease(actor));
  let takes = 0;
  return new Proxy(real, {
    get(target, p) {
      if (p !== "atomic") {
        const v = Reflect.get(target, p, target);
        return typeof v === "function" ? v.bind(target) : v;
      }
      return () => {
        const op = target.atomic();
        let setsLease = false;
        const proxy: Deno.AtomicOperation = new Proxy(op, {
          get(o, q) {
            const v = Reflect.get(o, q, o);
            if (typeof v !== "function") return v;
            return (...args: unknown[]) => {
              if (q === "set" && JSON.stringify(args[0]) === leaseKey) setsLease = true;
              if (q === "commit") {
                return (v.apply(o, args) as Promise<Deno.KvCommitResult>).then((r) => {
                  if (setsLease && r.ok) afterTake(++takes);
                  return r;
                });
              }
              const out = v.apply(o, args);
              return out === o ? proxy : out;
            };
          },
        });
        return proxy;
      };
    },
  });
}

for (const second of ["acquire", "acquireMany"] as const) {
  Deno.test(`a ${second} while the lease is being taken waits for that take: one take, the token it gave`, async () => {
    let leases!: Leases;
    let late: Promise<unknown> | undefined;
    let takes = 0;
    // The second caller comes once the first take has landed in KV and before its caller has
    // heard: the moment a read of the lease finds it already this node's.
    const kv = await takeWatchingKv("out", (n) => {
      takes = n;
      if (n === 1) {
        late = second === "acquire" ? leases.acquire("out") : leases.acquireMany(["out"]);
      }
    });
    try {
      leases = new Leases(kv, "n1", { ttlMs: 30_000 });
      assert.equal(await leases.acquire("out"), true);
      const token = leases.tokenOf("out");
      const got = await late;
      assert.ok(got === true || (Array.isArray(got) && got.includes("out")), String(got));
      assert.equal(takes, 1, "the lease was taken once");
      assert.equal(leases.tokenOf("out"), token);
      const lease = await kv.get(keys.lease("out"));
      assert.equal(lease.versionstamp, token, "the token is the lease in KV");
    } finally {
      kv.close();
    }
  });
}
