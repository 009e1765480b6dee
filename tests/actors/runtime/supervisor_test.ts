import assert from "node:assert/strict";
import type { Actor, ActorStatus } from "../../../actors/runtime/actor.ts";
import { Wakeup } from "../../../actors/runtime/actor.ts";
import { systemClock } from "../../../actors/runtime/clock.ts";
import { memoryLogger } from "../../../actors/runtime/log.ts";
import { retryDelayMs } from "../../../actors/runtime/retry.ts";
import { Supervisor } from "../../../actors/runtime/supervisor.ts";
import { Store } from "../../../actors/store/mod.ts";
import { waitFor } from "../../helpers/net.ts";

/** An actor whose run crashes `crashes` times, then counts notifications until stopped. */
class ScriptedActor implements Actor {
  readonly kind = "test";
  notified = 0;
  readonly #wake = new Wakeup();
  constructor(readonly id: string, readonly plan: { crashes: number; runs: number }) {}
  notify(): void {
    this.notified++;
    this.#wake.wake();
  }
  async run(signal: AbortSignal): Promise<void> {
    this.plan.runs++;
    if (this.plan.crashes-- > 0) throw new Error(`boom in ${this.id}`);
    while (!signal.aborted) {
      await systemClock.sleep(1000, AbortSignal.any([signal, this.#wake.signal()]));
    }
  }
  status(): Promise<ActorStatus> {
    return Promise.resolve({ id: this.id, kind: this.kind, state: "idle", queueDepth: 0 });
  }
  command() {
    return Promise.resolve({ ok: true, message: "done" });
  }
}

Deno.test("supervisor restarts a crashing actor with backoff and no other actor notices", async () => {
  const store = await Store.open({ path: ":memory:", node: "t" });
  const log = memoryLogger();
  const plans = new Map([["bad", { crashes: 2, runs: 0 }], ["good", { crashes: 0, runs: 0 }]]);
  const instances = new Map<string, ScriptedActor>();
  const supervisor = new Supervisor({
    store,
    log,
    pollMs: 0,
    restartBaseMs: 20,
    factory: (id) => {
      const plan = plans.get(id);
      if (!plan) return undefined;
      const a = new ScriptedActor(id, plan);
      instances.set(id, a);
      return a;
    },
    knownIds: () => plans.keys(),
  });
  try {
    await supervisor.start();
    assert.equal(await supervisor.activate("good"), true);
    assert.equal(await supervisor.activate("bad"), true);
    assert.equal(await supervisor.activate("nobody"), false);
    await waitFor("bad restarted twice", () => plans.get("bad")!.runs === 3);
    const bad = await supervisor.status("bad");
    assert.equal(bad?.restarts, 2);
    assert.equal(bad?.lastError, "boom in bad");
    assert.equal(plans.get("good")!.runs, 1, "the good actor ran once, undisturbed");
    supervisor.notify("good");
    assert.equal(instances.get("good")!.notified, 1);
    assert.equal(log.lines.filter((l) => l.includes("actor.crashed")).length, 2);
    assert.deepEqual((await supervisor.statuses()).map((s) => s.id), ["bad", "good"]);
  } finally {
    await supervisor.stop();
    store.close();
  }
});

Deno.test("supervisor activates at start every actor whose queue holds messages", async () => {
  const store = await Store.open({ path: ":memory:", node: "t" });
  await store.accept({
    queue: "q-one",
    origin: { kind: "integration", id: "x" },
    payload: new Uint8Array([1]),
    contentType: "application/octet-stream",
    log: { type: "RECEIVE" },
  });
  const started: string[] = [];
  const supervisor = new Supervisor({
    store,
    log: memoryLogger(),
    pollMs: 0,
    factory: (id) => {
      started.push(id);
      return new ScriptedActor(id, { crashes: 0, runs: 0 });
    },
  });
  try {
    await supervisor.start();
    assert.deepEqual(supervisor.activeIds, ["q-one"]);
    assert.deepEqual(started, ["q-one"]);
  } finally {
    await supervisor.stop();
    store.close();
  }
});

Deno.test("retry schedule is immediately, 10, 10, 20, 30, 50, 80, 120 s, then every 120 s", () => {
  assert.deepEqual(
    Array.from({ length: 11 }, (_, i) => retryDelayMs(i + 1) / 1000),
    [0, 10, 10, 20, 30, 50, 80, 120, 120, 120, 120],
  );
});
