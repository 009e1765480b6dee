/**
 * A delivery actor that knows its queue in memory learns from the supervisor's one read of every
 * queue's depth (each poll period) whether KV holds entries it does not know of, instead of
 * listing its own queue every poll period: with a thousand destinations that was a thousand KV
 * reads a second, idle or not. What another writer commits without telling the actor is still
 * found: at the next poll through the depth, and at the latest by the actor's own look once in
 * 30 poll periods (a writer that does not keep the depth). Nor does such an actor wake every poll
 * period while idle: it sleeps until its own look, its connection's idle close or its deactivation
 * is due. Real KV file, the real supervisor and delivery actor on a manual clock; the deliverer is
 * a recording fake behind the port (holding a connection through the real `HeldLink`).
 */

import assert from "node:assert/strict";
import { DeliveryActor } from "../../../actors/delivery/delivery_actor.ts";
import type { Deliverer, DeliveryJob } from "../../../actors/delivery/deliverer.ts";
import { HeldLink } from "../../../actors/delivery/held_link.ts";
import { ManualClock } from "../../../actors/runtime/clock.ts";
import { memoryLogger } from "../../../actors/runtime/log.ts";
import { Supervisor } from "../../../actors/runtime/supervisor.ts";
import { keys } from "../../../actors/store/keys.ts";
import { Store } from "../../../actors/store/store.ts";
import { waitFor } from "../../helpers/net.ts";
import { countPeeks, enqueueAdt } from "../../helpers/queue.ts";
import { countSleeps } from "../../helpers/sleeps.ts";
import { tempDir } from "../../helpers/temp.ts";

const POLL_MS = 1000;
const QUEUES = ["mllp-out:127.0.0.1:1001", "mllp-out:127.0.0.1:1002", "mllp-out:127.0.0.1:1003"];

/** Records the MSH-10 of what it is asked to deliver (in `delivered`) and accepts it. */
class RecordingDeliverer implements Deliverer {
  constructor(readonly delivered: string[] = []) {}
  deliver(job: DeliveryJob) {
    this.delivered.push(job.record.controlId ?? "");
    return Promise.resolve({ ok: true as const, detail: "AA" });
  }
  close() {
    return Promise.resolve();
  }
}

/**
 * A {@link RecordingDeliverer} that holds a connection (the real `HeldLink`), opened by its first
 * delivery and closed after `idleCloseMs` without traffic; `closedAt`: the monotonic time it was.
 */
class ConnectedDeliverer extends RecordingDeliverer {
  closedAt: number | undefined;
  readonly #link: HeldLink<{ open: boolean; close(): void }>;
  constructor(delivered: string[], readonly clock: ManualClock, idleCloseMs: number) {
    super(delivered);
    this.#link = new HeldLink({
      actorId: "test",
      idleCloseMs,
      idleEvent: "test.idle-close",
      log: memoryLogger(),
    });
  }
  override deliver(job: DeliveryJob) {
    const mono = this.clock.monotonic();
    if (!this.#link.current) {
      const link = {
        open: true,
        close: () => {
          link.open = false;
          this.closedAt = this.clock.monotonic();
        },
      };
      this.#link.hold(link, this.clock.now(), mono);
    }
    this.#link.touch(mono);
    return super.deliver(job);
  }
  idle(mono: number) {
    this.#link.idle(mono);
    return Promise.resolve();
  }
  idleCloseAt() {
    return this.#link.closesAt();
  }
  holdsConnection() {
    return this.#link.current !== undefined;
  }
}

/** How the actors of {@link engine} are made. */
interface EngineOptions {
  /** Each actor's connection closes after this long idle (none held when absent). */
  idleCloseMs?: number;
  idleDeactivateMs?: number;
}

/**
 * A store on a KV file with a second one on the same file (another process, which neither hands
 * entries over nor notifies), the supervisor and one delivery actor for each of {@link QUEUES},
 * all on one manual clock; counts the lists each actor makes of its own queue.
 */
async function engine(options: EngineOptions = {}) {
  const dir = await tempDir({ prefix: "depth-looks-" });
  const path = `${dir.path}/engine.kv`;
  const store = await Store.open({ path, node: "a" });
  const other = await Store.open({ path, node: "b" });
  const clock = new ManualClock();
  const log = memoryLogger();
  const delivered: string[] = [];
  const peeks = countPeeks(store, (queue) => QUEUES.includes(queue));
  const sleeps = countSleeps(clock);
  const actors = new Map<string, DeliveryActor>();
  const deliverers: ConnectedDeliverer[] = [];
  const supervisor = new Supervisor({
    store,
    log,
    clock,
    pollMs: POLL_MS,
    factory: (id) => {
      if (!QUEUES.includes(id)) return undefined;
      let deliverer = new RecordingDeliverer(delivered);
      if (options.idleCloseMs !== undefined) {
        deliverer = new ConnectedDeliverer(delivered, clock, options.idleCloseMs);
        deliverers.push(deliverer as ConnectedDeliverer);
      }
      const actor = new DeliveryActor({
        id,
        kind: "mllp-out",
        store,
        deliverer,
        clock,
        log,
        pollMs: POLL_MS,
        ...(options.idleDeactivateMs ? { idleDeactivateMs: options.idleDeactivateMs } : {}),
      });
      actors.set(id, actor);
      return actor;
    },
  });
  /** Every actor and the supervisor's poll asleep again (the barrier between two steps). */
  const settle = (loops = QUEUES.length + 1) =>
    waitFor(
      "every loop asleep",
      () => clock.pending === loops && store.commitBacklog === 0,
    );
  return {
    store,
    other,
    clock,
    delivered,
    supervisor,
    deliverers,
    settle,
    /** The actors' activations whose run has ended (deactivated). */
    ended: () => [...actors.keys()].filter((id) => !supervisor.activeIds.includes(id)).length,
    /** Lists of the KV queues of every actor so far. */
    get peeks() {
      return peeks();
    },
    /** Sleeps begun on the clock so far (the supervisor's poll and every actor's wake-ups). */
    get sleeps() {
      return sleeps();
    },
    /** One message on each queue, delivered: every actor active, warm, and idle. */
    async start() {
      for (const [i, q] of QUEUES.entries()) await enqueueAdt(store, q, `START-${i}`);
      await supervisor.start();
      await waitFor("the first messages", () => delivered.length === QUEUES.length);
      await settle();
    },
    /** `n` steps of `ms` (a poll period), each followed by every loop going back to sleep. */
    async polls(n: number, ms = POLL_MS) {
      for (let i = 0; i < n; i++) {
        clock.advance(ms);
        await settle();
      }
    },
    async [Symbol.asyncDispose]() {
      try {
        await supervisor.stop();
      } finally {
        store.close();
        other.close();
        await dir[Symbol.asyncDispose]();
      }
    },
  };
}

Deno.test("idle warm actors do not list their queues every poll period: the supervisor's read of the depths stands in", async () => {
  await using t = await engine();
  await t.start();
  // The first period after start may see an actor look before the supervisor has told it.
  await t.polls(2);
  const before = t.peeks;
  await t.polls(20);
  const lists = t.peeks - before;
  // Before, each actor listed its queue every poll period: 3 actors × 20 periods.
  assert.ok(lists === 0, `${lists} lists of 3 idle queues over 20 poll periods`);
});

Deno.test("idle warm actors told the depth do not wake every poll period: each sleeps until something is due", async () => {
  await using t = await engine();
  await t.start();
  await t.polls(2);
  const before = t.sleeps;
  await t.polls(20);
  const sleeps = t.sleeps - before;
  // The supervisor's poll sleeps once a period (20); before, each idle actor woke and slept again
  // every period too (60 more): with a thousand destinations, a thousand wake-ups a second.
  assert.ok(sleeps <= 20 + QUEUES.length, `${sleeps} sleeps begun over 20 poll periods`);
});

Deno.test("an idle actor's connection still closes when its idle period ends, between poll periods", async () => {
  await using t = await engine({ idleCloseMs: 2_500 });
  await t.start();
  const openedAt = t.clock.monotonic();
  await t.polls(6, POLL_MS / 2);
  assert.deepEqual(
    t.deliverers.map((d) => d.closedAt === undefined ? undefined : d.closedAt - openedAt),
    [2_500, 2_500, 2_500],
    "each connection closed at the end of its idle period",
  );
});

Deno.test("an idle actor with no connection still deactivates when its idle period ends", async () => {
  await using t = await engine({ idleDeactivateMs: 4_500 });
  await t.start();
  await t.polls(8, POLL_MS / 2);
  assert.equal(t.ended(), 0, "4 s idle: every actor still active");
  t.clock.advance(POLL_MS / 2);
  // Deactivated, the actors sleep no more: the supervisor's poll alone is left.
  await t.settle(1);
  await waitFor("every actor deactivated", () => t.ended() === QUEUES.length, 2_000);
});

Deno.test("an entry another process commits without telling the actor is delivered after the next poll period", async () => {
  await using t = await engine();
  await t.start();
  await t.polls(2);
  await enqueueAdt(t.other, QUEUES[1]!, "FROM-B");
  await t.polls(1);
  await waitFor("the other process's message", () => t.delivered.includes("FROM-B"));
  assert.deepEqual(t.delivered.slice(QUEUES.length), ["FROM-B"]);
});

Deno.test("a writer that leaves the queue's depth as it was is found by the actor's own look, within 30 poll periods", async () => {
  await using t = await engine();
  await t.start();
  await t.polls(2);
  await enqueueAdt(t.other, QUEUES[2]!, "UNCOUNTED");
  // The depth taken back: KV holds an entry the depth does not count (an older writer, a repair).
  await t.other.kv.atomic().sum(keys.queueDepth(QUEUES[2]!), (1n << 64n) - 1n).commit();
  await t.polls(27);
  assert.ok(!t.delivered.includes("UNCOUNTED"), "the depth said nothing new: no look yet");
  await t.polls(3);
  await waitFor("the uncounted message", () => t.delivered.includes("UNCOUNTED"));
});

Deno.test("an actor no supervisor tells the depth looks at its queue every poll period, and again once it finds the telling stopped", async () => {
  await using dir = await tempDir({ prefix: "depth-looks-alone-" });
  const store = await Store.open({ path: `${dir.path}/engine.kv`, node: "a" });
  const clock = new ManualClock();
  const queue = QUEUES[0]!;
  const peeks = countPeeks(store, (q) => q === queue);
  const deliverer = new RecordingDeliverer();
  const actor = new DeliveryActor({
    id: queue,
    kind: "mllp-out",
    store,
    deliverer,
    clock,
    log: memoryLogger(),
    pollMs: POLL_MS,
  });
  const abort = new AbortController();
  await enqueueAdt(store, queue, "FIRST");
  const running = actor.run(abort.signal);
  const asleep = () =>
    waitFor("the actor asleep", () => clock.pending === 1 && store.commitBacklog === 0);
  const polls = async (n: number) => {
    for (let i = 0; i < n; i++) {
      clock.advance(POLL_MS);
      await asleep();
    }
  };
  try {
    await waitFor("the first message", () => deliverer.delivered.length === 1);
    await asleep();
    let before = peeks();
    await polls(5);
    assert.equal(peeks() - before, 5, "alone: one look a poll period");
    // Told for a while: no look of its own.
    before = peeks();
    for (let i = 0; i < 3; i++) {
      actor.queueDepth(0);
      await polls(1);
    }
    assert.equal(peeks() - before, 0, "told the depth: no look of its own");
    // The telling stops: the actor, asleep until its own look, finds that then (within 30 poll
    // periods), and looks every period again.
    before = peeks();
    await polls(30);
    assert.ok(peeks() - before >= 1, "no look in the 30 periods after the telling stopped");
    before = peeks();
    await polls(5);
    assert.equal(peeks() - before, 5, "untold again: one look a poll period");
  } finally {
    abort.abort();
    await running;
    store.close();
  }
});
