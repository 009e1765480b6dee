/**
 * Two requests to activate one actor at once (a message handed over while its first activation is
 * still taking the lease): the running activation keeps its lease, its completions commit, and
 * nothing it delivered is sent again. Before, the second request took the lease again, the
 * completions built with the first token were refused, taken as "gone", and the queue's head was
 * read back and sent again: the whole run, each time.
 */

import assert from "node:assert/strict";
import { DeliveryActor } from "../../../actors/delivery/delivery_actor.ts";
import type { Deliverer } from "../../../actors/delivery/deliverer.ts";
import { ManualClock } from "../../../actors/runtime/clock.ts";
import { memoryLogger } from "../../../actors/runtime/log.ts";
import { Supervisor } from "../../../actors/runtime/supervisor.ts";
import { Store } from "../../../actors/store/mod.ts";
import { waitFor } from "../../helpers/net.ts";

interface OpInfo {
  sets: Deno.KvKey[];
  deletes: Deno.KvKey[];
}
const isLease = (k: Deno.KvKey) => k.length === 2 && k[0] === "lease" && k[1] === "out";
const isEntry = (k: Deno.KvKey) => k[0] === "q" && k[1] === "out";

/** An in-memory KV whose atomic commits pass through `hooks`, to order them. */
async function hookedKv(hooks: {
  before(info: OpInfo): Promise<void>;
  after(info: OpInfo, result: Deno.KvCommitResult | Deno.KvCommitError): void;
}): Promise<Deno.Kv> {
  const real = await Deno.openKv(":memory:");
  const wrap = (op: Deno.AtomicOperation): Deno.AtomicOperation => {
    const info: OpInfo = { sets: [], deletes: [] };
    const proxy: Deno.AtomicOperation = new Proxy(op, {
      get(o, q) {
        if (q === "commit") {
          return async () => {
            await hooks.before(info);
            const r = await o.commit();
            hooks.after(info, r);
            return r;
          };
        }
        const v = Reflect.get(o, q, o);
        if (typeof v !== "function") return v;
        return (...args: unknown[]) => {
          if (q === "set") info.sets.push(args[0] as Deno.KvKey);
          if (q === "delete") info.deletes.push(args[0] as Deno.KvKey);
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

Deno.test("an actor asked to activate again while its lease is being taken keeps that lease: its completions commit, nothing is sent twice", async () => {
  const clock = new ManualClock();
  let takes = 0;
  let second: Promise<boolean> | undefined;
  let completionBuilt!: () => void;
  const completion = new Promise<void>((r) => (completionBuilt = r));
  const refused: string[] = [];
  const kv = await hookedKv({
    async before(info) {
      if (info.sets.some(isLease)) {
        // A second take would land only after the first completion was built with the first
        // token, as a slower second request does on a loaded machine.
        if (++takes === 2) await completion;
      } else if (info.deletes.some(isEntry)) {
        completionBuilt();
        // The completion commits once the second request is through, whatever it did.
        await second;
      }
    },
    after(info, result) {
      // The next message's hand-over finds the actor not active yet (its lease commit has
      // landed, its caller not heard yet): a second activation request.
      if (info.sets.some(isLease) && takes === 1 && !second) second = supervisor.activate("out");
      if (info.deletes.some(isEntry) && !result.ok) refused.push("a completion refused");
    },
  });
  const store = new Store(kv, { node: "n1", now: () => clock.now() });
  const leases = store.leases({ ttlMs: 30_000, now: () => clock.now() });
  store.fenceWith((q) => leases.fence(q));
  const sent: string[] = [];
  const deliverer: Deliverer = {
    deliver: ({ record }) => {
      sent.push(record.controlId!);
      return Promise.resolve({ ok: true, detail: "AA" });
    },
    close: () => Promise.resolve(),
  };
  const log = memoryLogger();
  // The hooks above call it only once commits run, after it is made.
  const supervisor: Supervisor = new Supervisor({
    store,
    clock,
    leases,
    log,
    pollMs: 0, // no restore loop: the two requests are the test's
    factory: (id) =>
      id === "out"
        ? new DeliveryActor({ id, kind: "test", store, deliverer, clock, log, pollMs: 1000 })
        : undefined,
  });
  const enc = new TextEncoder();
  for (const id of ["BEFORE", "HOLD", "QUEUED"]) {
    await store.accept({
      queue: "out",
      origin: { kind: "integration", id: "feed" },
      payload: enc.encode(`MSH|^~\\&|${id}`),
      contentType: "application/hl7-v2",
      controlId: id,
      log: { type: "RECEIVE", integrationId: "feed" },
    });
  }
  try {
    assert.equal(await supervisor.activate("out"), true);
    await waitFor("the run sent", () => sent.length >= 3);
    assert.equal(await second, true, "the second request finds the actor running");
    // Scans from the head (every poll period) find nothing that was delivered.
    for (let i = 0; i < 3; i++) {
      await waitFor("the actor waiting", () => clock.pending > 0);
      clock.advance(1000);
      await new Promise((r) => setTimeout(r, 10));
    }
    await waitFor("the queue drained", async () => await store.depth("out") === 0);
    assert.deepEqual(sent, ["BEFORE", "HOLD", "QUEUED"], "each sent once");
    assert.equal(takes, 1, "the lease was taken once");
    assert.deepEqual(refused, []);
  } finally {
    await supervisor.stop();
    store.close();
  }
});
