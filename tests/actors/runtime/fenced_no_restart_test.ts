/**
 * An actor whose commit the fence refused (another node took its lease) is not restarted: a
 * restart would send its head again on a new connection while the new owner sends it too. It
 * stays stopped until this node holds the lease again.
 */

import assert from "node:assert/strict";
import type { Actor, ActorStatus } from "../../../actors/runtime/actor.ts";
import { memoryLogger } from "../../../actors/runtime/log.ts";
import { Supervisor } from "../../../actors/runtime/supervisor.ts";
import { Leases } from "../../../actors/store/leases.ts";
import { FencedError, Store } from "../../../actors/store/mod.ts";
import { waitFor } from "../../helpers/net.ts";
import { tempDir } from "../../helpers/temp.ts";

const ID = "mllp-out:ehr";

/** Sends once per run; its first run then finds its completion refused by the fence. */
class FencedActor implements Actor {
  readonly kind = "test";
  constructor(
    readonly id: string,
    readonly plan: { runs: number; fenced: Promise<void> },
  ) {}
  notify(): void {}
  async run(signal: AbortSignal): Promise<void> {
    const run = ++this.plan.runs;
    if (run === 1) {
      await this.plan.fenced;
      throw new FencedError(this.id, "000000000000000000n", 10);
    }
    await new Promise<void>((resolve) => signal.addEventListener("abort", () => resolve()));
  }
  status(): Promise<ActorStatus> {
    return Promise.resolve({ id: this.id, kind: this.kind, state: "idle", queueDepth: 0 });
  }
  command() {
    return Promise.resolve({ ok: true, message: "done" });
  }
}

Deno.test("an actor fenced by another node's take is not restarted until this node holds the lease again", async () => {
  await using dir = await tempDir({ prefix: "fenced-restart-" });
  const store = await Store.open({ path: `${dir.path}/engine.kv`, node: "node-a" });
  const leases = store.leases({ ttlMs: 30_000 });
  let elapsedB = 0;
  const other = new Leases(store.kv, "node-b", { ttlMs: 30_000, elapsed: () => elapsedB });
  let fence!: () => void;
  const plan = { runs: 0, fenced: new Promise<void>((r) => fence = r) };
  const log = memoryLogger();
  const supervisor = new Supervisor({
    store,
    log,
    pollMs: 0,
    restartBaseMs: 10,
    leases,
    factory: (id) => id === ID ? new FencedActor(id, plan) : undefined,
  });
  try {
    await supervisor.start();
    assert.equal(await supervisor.activate(ID), true);
    // node-b judges node-a's lease expired (its renewal unchanged for a lifetime of node-b's
    // clock) and takes it; node-a's next completion is refused by the fence.
    assert.equal(await other.acquire(ID), false);
    elapsedB += 30_000;
    assert.equal(await other.acquire(ID), true);
    fence();
    await waitFor(
      "the fenced actor stopped or restarted",
      () => plan.runs > 1 || !supervisor.activeIds.includes(ID),
    );
    assert.equal(plan.runs, 1, "restarted: it would send its head again");
    assert.equal(leases.valid(ID), false, "the refused renewal ends the lease's validity");
    assert.ok(log.lines.some((l) => l.includes("actor.lease-lost")), log.lines.join("\n"));
    assert.equal(log.lines.filter((l) => l.includes("actor.crashed")).length, 0);
    // Not activated again while node-b holds the lease; once node-b lets go, it is.
    assert.equal(await supervisor.activate(ID), false);
    assert.equal(plan.runs, 1);
    await other.release(ID);
    assert.equal(await supervisor.activate(ID), true);
    assert.equal(plan.runs, 2);
  } finally {
    await supervisor.stop();
    store.close();
  }
});
