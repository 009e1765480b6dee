import assert from "node:assert/strict";
import { DeliveryActor } from "../../../actors/delivery/delivery_actor.ts";
import type { Deliverer } from "../../../actors/delivery/deliverer.ts";
import { type Actor, type ActorStatus, Wakeup } from "../../../actors/runtime/actor.ts";
import { ManualClock } from "../../../actors/runtime/clock.ts";
import { healthReport } from "../../../actors/runtime/health.ts";
import { memoryLogger } from "../../../actors/runtime/log.ts";
import { CRASH_LOOP, Supervisor } from "../../../actors/runtime/supervisor.ts";
import { StoreUnavailableError } from "../../../actors/store/health.ts";
import { Store } from "../../../actors/store/mod.ts";
import { openFaultyKv } from "../store/fixtures/faulty_kv.ts";
import { waitFor } from "../../helpers/net.ts";

const enc = new TextEncoder();

async function setup() {
  const faulty = await openFaultyKv();
  const clock = new ManualClock();
  const store = new Store(faulty.kv, { node: "t", now: () => clock.now() });
  const log = memoryLogger();
  store.health.configure({ log, warnIntervalMs: 30_000 });
  return { faulty, clock, store, log };
}

function enqueue(store: Store, queue: string, id: string) {
  return store.accept({
    queue,
    origin: { kind: "integration", id: "feed" },
    payload: enc.encode(`MSH|^~\\&|${id}`),
    contentType: "application/hl7-v2",
    controlId: id,
    log: { type: "RECEIVE", integrationId: "feed" },
  });
}

/** A deliverer that accepts every message, noting its MSH-10 in `sent`; `onFirst` runs on the first. */
function acceptingDeliverer(sent: string[], onFirst: () => void): Deliverer {
  return {
    deliver: ({ record }) => {
      sent.push(record.controlId!);
      if (sent.length === 1) onFirst();
      return Promise.resolve({ ok: true, detail: "AA" });
    },
    close: () => Promise.resolve(),
  };
}

/** Moves the manual clock until `done`, a bounded number of times. */
async function advanceUntil(
  clock: ManualClock,
  what: string,
  done: () => boolean | Promise<boolean>,
) {
  for (let i = 0; i < 200 && !(await done()); i++) {
    await waitFor(`a sleeper while waiting for ${what}`, () => clock.pending > 0);
    clock.advance(clock.nextWake! - clock.now());
    await new Promise((r) => setTimeout(r, 1));
  }
  assert.ok(await done(), what);
}

/** Fails its runs as scripted (a store write on a full disk, or a bug), then runs until stopped. */
class ScriptedActor implements Actor {
  readonly kind = "test";
  runs = 0;
  readonly #wake = new Wakeup();
  constructor(
    readonly id: string,
    readonly fail: (run: number) => Promise<void>,
    readonly clock: ManualClock,
  ) {}
  notify(): void {
    this.#wake.wake();
  }
  async run(signal: AbortSignal): Promise<void> {
    await this.fail(++this.runs);
    while (!signal.aborted) await this.clock.sleep(60_000, signal);
  }
  status(): Promise<ActorStatus> {
    return Promise.resolve({ id: this.id, kind: this.kind, state: "idle", queueDepth: 0 });
  }
  command() {
    return Promise.resolve({ ok: true, message: "done" });
  }
}

Deno.test("an actor stopped by a full disk waits for KV and resumes, without crash-looping or being reported crashed", async () => {
  const { faulty, clock, store, log } = await setup();
  let runs = 0;
  const supervisor = new Supervisor({
    store,
    log,
    clock,
    pollMs: 0,
    factory: (id) =>
      id === "a"
        ? new ScriptedActor(id, async () => {
          // Its first run writes while the disk is full: the store's own error ends it.
          if (++runs === 1) await enqueue(store, "q", "X");
        }, clock)
        : undefined,
  });
  try {
    faulty.full = true;
    await supervisor.start();
    await supervisor.activate("a");
    await waitFor("the actor waiting for KV", () => clock.pending > 0 && !store.health.writable);
    // Still full: probing on the backoff, never restarted and never counted as a crash.
    for (let i = 0; i < 5; i++) {
      clock.advance(clock.nextWake! - clock.now());
      await waitFor("the next backoff", () => clock.pending > 0);
    }
    assert.equal(runs, 1);
    assert.deepEqual(supervisor.problems, []);
    faulty.full = false;
    await advanceUntil(clock, "the actor running again", () => runs === 2);
    assert.ok(store.health.writable);
    assert.equal((await supervisor.status("a"))?.restarts, 0);
    assert.ok(!log.lines.some((l) => l.includes("actor.crashed")), log.lines.join("\n"));
    assert.equal(log.lines.filter((l) => l.includes("store.not-writable")).length, 1);
  } finally {
    await supervisor.stop();
    store.close();
  }
});

Deno.test("/healthz fails for KV that cannot commit, a listener that stopped accepting and a crash-looping actor", async () => {
  const { faulty, clock, store, log } = await setup();
  const supervisor = new Supervisor({
    store,
    log,
    clock,
    pollMs: 0,
    restartBaseMs: 100,
    restartMaxMs: 1000,
    factory: (id) =>
      id === "bad"
        ? new ScriptedActor(id, () => Promise.reject(new Error("boom")), clock)
        : undefined,
  });
  const listeners = [{ port: 2575, accepting: true }];
  const report = () => healthReport({ node: "n1", store, supervisor, listeners });
  try {
    await supervisor.start();
    let r = await report();
    assert.equal(r.status, "ok");
    assert.deepEqual(r.checks.map((c) => [c.name, c.ok]), [
      ["kv", true],
      ["mllp:2575", true],
      ["actors", true],
    ]);

    faulty.full = true;
    await assert.rejects(enqueue(store, "q", "X"), StoreUnavailableError);
    listeners.push({ port: 2576, accepting: false });
    await supervisor.activate("bad");
    await advanceUntil(clock, "a crash loop", () => supervisor.problems.length > 0);
    r = await report();
    assert.equal(r.status, "failing");
    const failing = Object.fromEntries(r.checks.filter((c) => !c.ok).map((c) => [c.name, c]));
    assert.deepEqual(Object.keys(failing), ["kv", "mllp:2576", "actors"]);
    assert.match(failing.kv!.reason!, /database or disk is full/);
    assert.ok(failing.kv!.since);
    assert.match(
      failing.actors!.reason!,
      new RegExp(`bad crashed ${CRASH_LOOP} times in a row .*boom`),
    );

    faulty.full = false;
    clock.advance(1_000); // a probe interval: /healthz itself finds KV writable again
    r = await report();
    assert.ok(r.checks.find((c) => c.name === "kv")!.ok);
  } finally {
    await supervisor.stop();
    store.close();
  }
});

Deno.test("a delivery whose completion meets a full disk is completed once space returns, never sent again", async () => {
  const { faulty, clock, store, log } = await setup();
  const sent: string[] = [];
  // The disk fills while the first message is on the wire: its completion cannot commit.
  const deliverer = acceptingDeliverer(sent, () => faulty.full = true);
  const actor = new DeliveryActor({ id: "out", kind: "test", store, deliverer, clock, log });
  for (const id of ["D1", "D2", "D3"]) await enqueue(store, "out", id);
  const stop = new AbortController();
  let crashed: unknown;
  const running = actor.run(stop.signal).catch((e) => crashed = e);
  try {
    await waitFor("the completion refused", () => !store.health.writable && clock.pending > 0);
    // Paused: probing on a backoff, nothing more sent, the actor alive. (The message after D1 may
    // have gone out before D1's completion failed: completions commit in the background.)
    const before = [...sent];
    for (let i = 0; i < 10; i++) {
      clock.advance(clock.nextWake! - clock.now());
      await new Promise((r) => setTimeout(r, 1));
      await waitFor("the actor sleeping again", () => clock.pending > 0 || crashed !== undefined);
    }
    assert.equal(crashed, undefined);
    assert.deepEqual(sent, before);
    assert.equal((await actor.status()).state, "backoff");
    faulty.full = false;
    await advanceUntil(clock, "the queue delivered", async () => await store.depth("out") === 0);
    assert.deepEqual(sent, ["D1", "D2", "D3"], "each sent once");
    assert.equal(crashed, undefined);
  } finally {
    stop.abort();
    await running;
    store.close();
  }
});

Deno.test("a disk that takes small commits and refuses larger ones: the actor waits, sends nothing twice, and finishes once space returns", async () => {
  const { faulty, clock, store } = await setup();
  const sent: string[] = [];
  // The disk nearly fills while the first message is on the wire: a probe or a lease renewal
  // (one row) commits, a completion (a log, the entry, the depth) does not.
  const deliverer = acceptingDeliverer(sent, () => faulty.fullAbove = 1);
  // As the engine runs it: supervised, under a lease that fences each completion.
  const leases = store.leases({ ttlMs: 30_000, now: () => clock.now() });
  store.fenceWith((q) => leases.fence(q));
  const log = memoryLogger();
  const supervisor = new Supervisor({
    store,
    clock,
    leases,
    log,
    pollMs: 1000,
    factory: (id) =>
      id === "out"
        ? new DeliveryActor({ id, kind: "test", store, deliverer, clock, log: memoryLogger() })
        : undefined,
  });
  for (const id of ["D1", "D2", "D3"]) await enqueue(store, "out", id);
  await supervisor.start();
  try {
    await waitFor("the completion refused", () => !store.health.writable);
    // Many probe and poll periods while the store flaps: each small commit makes it writable
    // for a moment, the next completion fails again.
    for (let i = 0; i < 40; i++) {
      await waitFor("a sleeper", () => clock.pending > 0);
      clock.advance(clock.nextWake! - clock.now());
      await new Promise((r) => setTimeout(r, 1));
    }
    assert.ok(await store.depth("out") > 0, "completions are still refused");
    faulty.fullAbove = undefined;
    await advanceUntil(clock, "the queue delivered", async () => await store.depth("out") === 0);
    assert.deepEqual(sent, ["D1", "D2", "D3"], "each sent once");
    assert.doesNotMatch(log.lines.join("\n"), /actor\.crashed|lease/);
  } finally {
    await supervisor.stop();
    store.close();
  }
});

Deno.test("a message delivered by an activation that stopped before its completion could commit is completed by the next one, never sent again", async () => {
  const { faulty, clock, store } = await setup();
  const sent: string[] = [];
  const deliverer = acceptingDeliverer(sent, () => faulty.full = true);
  const log = memoryLogger();
  const actor = () => new DeliveryActor({ id: "out", kind: "test", store, deliverer, clock, log });
  const logIds: string[] = [];
  for (const id of ["D1", "D2", "D3"]) {
    const stored = await enqueue(store, "out", id);
    assert.equal(stored.status, "stored");
    if (stored.status === "stored") logIds.push(stored.logId);
  }
  const first = new AbortController();
  const running = actor().run(first.signal);
  await waitFor("the completion refused", () => !store.health.writable && clock.pending > 0);
  // Stopped (a handover, a reload, a restart) while KV still refuses the completion.
  first.abort();
  await running;
  const delivered = [...sent];
  assert.ok(store.owed.size >= 1, "the completion is owed");
  assert.ok(await store.depth("out") === 3, "KV still lists what was delivered");

  const second = new AbortController();
  const again = actor().run(second.signal);
  try {
    for (let i = 0; i < 5; i++) {
      await waitFor("a sleeper", () => clock.pending > 0);
      clock.advance(clock.nextWake! - clock.now());
      await new Promise((r) => setTimeout(r, 1));
    }
    assert.deepEqual(sent, delivered, "nothing sent while KV is full");
    faulty.full = false;
    await advanceUntil(clock, "the queue delivered", async () => await store.depth("out") === 0);
    assert.deepEqual(sent, ["D1", "D2", "D3"], "each sent once");
    assert.equal(store.owed.size, 0);
    assert.match(log.lines.join("\n"), /delivery\.completing-owed actor=out messages=\d/);
    // Each log: one attempt, SUCCEEDED (the owed completion recorded the attempt once).
    for (const id of logIds) {
      const l = await store.getLog(id);
      assert.equal(l?.status, "SUCCEEDED");
      assert.equal(l?.attemptCount, 1, JSON.stringify(l));
    }
  } finally {
    second.abort();
    await again;
    store.close();
  }
});
