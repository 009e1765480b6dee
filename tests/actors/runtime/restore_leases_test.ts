/**
 * A start that takes long to restore its actors (hundreds of queues after a restart, commits
 * queued behind their reads) keeps renewing the leases it has already taken: the first actors
 * started do not find their lease lapsed (`actor.lease-expired`) when the last are still being
 * started. Before, the renewal loop began only once every actor was started.
 */

import assert from "node:assert/strict";
import { memoryLogger } from "../../../actors/runtime/log.ts";
import { Supervisor } from "../../../actors/runtime/supervisor.ts";
import { Store } from "../../../actors/store/mod.ts";
import { waitFor } from "../../helpers/net.ts";
import { idleActor } from "./fixtures.ts";

/** An in-memory KV whose commits taking a lease take `delayMs` each (a loaded KV). */
async function slowTakesKv(delayMs: number): Promise<Deno.Kv> {
  const real = await Deno.openKv(":memory:");
  const wrap = (op: Deno.AtomicOperation): Deno.AtomicOperation => {
    let take = false;
    const proxy: Deno.AtomicOperation = new Proxy(op, {
      get(o, q) {
        if (q === "commit") {
          return async () => {
            if (take) await new Promise((r) => setTimeout(r, delayMs));
            return await o.commit();
          };
        }
        const v = Reflect.get(o, q, o);
        if (typeof v !== "function") return v;
        return (...args: unknown[]) => {
          const key = args[0] as Deno.KvKey;
          // A take sets ["lease", actor]; a renewal sets ["lease", actor, "renew"].
          if (q === "set" && key.length === 2 && key[0] === "lease") take = true;
          const out = v.apply(o, args);
          return out === o ? proxy : out;
        };
      },
    });
    return proxy;
  };
  return new Proxy(real, {
    get(t, p) {
      if (p === "atomic") return () => wrap(t.atomic());
      const v = Reflect.get(t, p, t);
      return typeof v === "function" ? v.bind(t) : v;
    },
  });
}

Deno.test("a slow start renews the leases it has taken: the first actors keep theirs while the last are still being started", async () => {
  // 400 actors, 5 leases a commit, 20 commits side by side, each take 600 ms: the start takes
  // four rounds (~2.4 s), longer than a lease may go unrenewed (2 s of its 3 s). (Twice the
  // 300 ms and 1.5 s it was: a renewal may now be 1 s late on a loaded machine, not 0.5 s; a
  // start that renews nothing still leaves the first leases unrenewed from ~0.6 s to ~3.4 s.)
  const ids = Array.from({ length: 400 }, (_, i) => `actor-${i}`);
  const kv = await slowTakesKv(600);
  const store = new Store(kv, { node: "n1" });
  const leases = store.leases({ ttlMs: 3000 }); // renewed every 1 s, stopped after 2 s
  const log = memoryLogger();
  const supervisor = new Supervisor({
    store,
    leases,
    log,
    pollMs: 0,
    alwaysOn: () => ids,
    factory: (id) => idleActor(id),
  });
  const t0 = performance.now();
  const started = supervisor.start();
  try {
    await started;
    const took = performance.now() - t0;
    assert.ok(took > 1800, `the start took ${Math.round(took)} ms: not slow enough to tell`);
    // Past the point where the first leases (taken ~600 ms in) lapse unless renewed, with the
    // fence's looks in between.
    await waitFor("the first leases' deadline passed", () => performance.now() - t0 > 3800);
    const expired = log.lines.filter((l) => l.includes("actor.lease-expired"));
    assert.deepEqual(expired.slice(0, 3), [], `${expired.length} leases lapsed during the start`);
    for (const id of ids) assert.ok(leases.valid(id), `${id}'s lease is valid`);
  } finally {
    await started.catch(() => {});
    await supervisor.stop();
    store.close();
  }
});
