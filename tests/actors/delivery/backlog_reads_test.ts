/**
 * Actors reading their backlogs back from KV take turns through the store's read gate, so that a
 * commit never queues behind every actor's reads; and an actor's look from the head never holds
 * up what was handed over to it while others fill the gate. Real KV file, a manual clock and a
 * deliverer that answers at once.
 */

import assert from "node:assert/strict";
import { DeliveryActor } from "../../../actors/delivery/delivery_actor.ts";
import type {
  Deliverer,
  DeliveryJob,
  DeliveryOutcome,
} from "../../../actors/delivery/deliverer.ts";
import { ManualClock } from "../../../actors/runtime/clock.ts";
import { memoryLogger } from "../../../actors/runtime/log.ts";
import { QUEUE_READS_AT_ONCE, Store } from "../../../actors/store/store.ts";
import type { QueueItem } from "../../../actors/store/requests.ts";
import { waitFor } from "../../helpers/net.ts";
import { enqueueAdt } from "../../helpers/queue.ts";
import { tempDir } from "../../helpers/temp.ts";

const POLL_MS = 1000;
const decoder = new TextDecoder();

/**
 * Answers every attempt with AA, noting each queue's MSH-10s in the order sent: at once, or once
 * the test lets it go while `holding`.
 */
class AcceptingDeliverer implements Deliverer {
  readonly sent: string[] = [];
  holding = false;
  readonly #held: (() => void)[] = [];
  deliver(job: DeliveryJob): Promise<DeliveryOutcome> {
    this.sent.push(decoder.decode(job.payload).split("\r")[0]!.split("|")[9]!);
    const aa: DeliveryOutcome = { ok: true, detail: "AA" };
    if (!this.holding) return Promise.resolve(aa);
    return new Promise((resolve) => this.#held.push(() => resolve(aa)));
  }
  /** Answers the attempt on the wire (held); with `holding` off, the ones after go at once. */
  answer(): void {
    this.#held.shift()?.();
  }
  close() {
    return Promise.resolve();
  }
}

/** Takes every slot of `store`'s read gate left, with reads that end when the test says. */
function fillGate(store: Store) {
  const ends: (() => void)[] = [];
  const gate = store.queueReads;
  const reads = Array.from(
    { length: gate.limit - gate.running },
    () => gate.run(() => new Promise<void>((resolve) => ends.push(resolve))),
  );
  return {
    async ready() {
      await waitFor("the gate full", () => gate.busy);
    },
    async end() {
      for (const end of ends) end();
      await Promise.all(reads);
    },
  };
}

/** A queue item for `controlId`, enqueued in KV, as a writer of this process hands it over. */
async function handOverItem(store: Store, queue: string, controlId: string): Promise<QueueItem> {
  const { messageId } = await enqueueAdt(store, queue, controlId);
  const head = (await store.peek(queue, 128)).find((h) => h.entry.messageId === messageId)!;
  const record = (await store.getMessage(messageId))!;
  return { head, record, log: null, payload: await store.getPayload(record) };
}

/**
 * Runs one delivery actor per queue on `store` (its deliverer answering at once, or holding each
 * attempt with `holding`); `stop()` ends them all.
 */
function startActors(
  store: Store,
  clock: ManualClock,
  queues: string[],
  options: { holding?: boolean } = {},
) {
  const abort = new AbortController();
  const deliverers = new Map<string, AcceptingDeliverer>();
  const actors = new Map<string, DeliveryActor>();
  const runs = queues.map((id) => {
    const deliverer = new AcceptingDeliverer();
    deliverer.holding = options.holding ?? false;
    deliverers.set(id, deliverer);
    const actor = new DeliveryActor({
      id,
      kind: "mllp-out",
      store,
      deliverer,
      clock,
      log: memoryLogger(),
      pollMs: POLL_MS,
      idleDeactivateMs: 24 * 3600_000,
    });
    actors.set(id, actor);
    return actor.run(abort.signal);
  });
  return {
    deliverers,
    actors,
    async stop() {
      abort.abort();
      await Promise.all(runs);
    },
  };
}

Deno.test("actors reading their backlogs take turns through the read gate, and each queue still goes out in order", async () => {
  await using dir = await tempDir({ prefix: "backlog-reads-" });
  const store = await Store.open({ path: `${dir.path}/engine.kv`, node: "test" });
  const queues = Array.from({ length: 3 * QUEUE_READS_AT_ONCE }, (_, q) => `mllp-out:fake:${q}`);
  for (let m = 0; m < 5; m++) {
    for (const [q, queue] of queues.entries()) await enqueueAdt(store, queue, `Q${q}-M${m}`);
  }
  // Every read of the actors' messages is held until the test lets it go.
  const held: (() => void)[] = [];
  let reading = 0, mostAtOnce = 0;
  const getMessages = store.getMessages.bind(store);
  store.getMessages = async (ids) => {
    reading++;
    mostAtOnce = Math.max(mostAtOnce, reading);
    await new Promise<void>((resolve) => held.push(resolve));
    try {
      return await getMessages(ids);
    } finally {
      reading--;
    }
  };
  const clock = new ManualClock();
  const run = startActors(store, clock, queues);
  try {
    await waitFor("the gate to fill", () => held.length === QUEUE_READS_AT_ONCE);
    await waitFor(
      "the other actors to wait their turn",
      () => store.queueReads.waiting === queues.length - QUEUE_READS_AT_ONCE,
    );
    assert.equal(held.length, QUEUE_READS_AT_ONCE, "no read past the gate's limit");
    // Let reads go one at a time: each frees a slot for the next actor in line.
    const sent = () => [...run.deliverers.values()].reduce((n, d) => n + d.sent.length, 0);
    for (let released = 0; sent() < queues.length * 5; released++) {
      await waitFor("a held read", () => held.length > released || sent() === queues.length * 5);
      held[released]?.();
    }
    assert.equal(mostAtOnce, QUEUE_READS_AT_ONCE);
    for (const [q, queue] of queues.entries()) {
      assert.deepEqual(
        run.deliverers.get(queue)!.sent,
        [0, 1, 2, 3, 4].map((m) => `Q${q}-M${m}`),
        `${queue} in order`,
      );
    }
    await waitFor("every completion committed", async () => {
      for (const queue of queues) if (await store.depth(queue) > 0) return false;
      return true;
    });
  } finally {
    for (const release of held) release();
    await run.stop();
    store.close();
  }
});

Deno.test("a warm actor's look from the head goes straight to KV: what is handed over goes out while other actors' reads fill the gate", async () => {
  await using dir = await tempDir({ prefix: "backlog-reads-warm-" });
  const store = await Store.open({ path: `${dir.path}/engine.kv`, node: "test" });
  const queue = "mllp-out:fake:warm";
  const clock = new ManualClock();
  const run = startActors(store, clock, [queue]);
  const deliverer = run.deliverers.get(queue)!;
  let others: ReturnType<typeof fillGate> | undefined;
  try {
    // Its first look (from the head) found the queue empty: it is warm, idle until the next poll.
    await waitFor("the actor idle", () => clock.pending === 1);
    others = fillGate(store);
    await others.ready();
    for (const [n, advance] of [[1, POLL_MS], [2, 10 * POLL_MS]] as const) {
      clock.advance(advance); // a look from the head is due
      run.actors.get(queue)!.take([await handOverItem(store, queue, `HANDED-${n}`)]);
      await waitFor(`HANDED-${n} sent`, () => deliverer.sent.length === n);
      assert.equal(store.queueReads.waiting, 0, "the look did not wait in line");
      await waitFor("the actor idle again", () => clock.pending === 1);
    }
    assert.deepEqual(deliverer.sent, ["HANDED-1", "HANDED-2"]);
  } finally {
    await others?.end();
    await run.stop();
    store.close();
  }
});

Deno.test("a cold actor's look waits while the gate is full, so what memory holds goes out; ten polls on, it waits its turn in line", async () => {
  await using dir = await tempDir({ prefix: "backlog-reads-cold-" });
  const store = await Store.open({ path: `${dir.path}/engine.kv`, node: "test" });
  const queue = "mllp-out:fake:cold";
  // Two pages and a bit: after its first read and the read ahead, KV still holds more (cold).
  const total = 2 * 128 + 2;
  const names = Array.from({ length: total }, (_, i) => `C${String(i).padStart(3, "0")}`);
  for (const name of names) await enqueueAdt(store, queue, name);
  // The read ahead (every read after the first) is held until the test lets it go.
  const heldReads: (() => void)[] = [];
  let reads = 0;
  const getMessages = store.getMessages.bind(store);
  store.getMessages = async (ids) => {
    if (reads++ > 0) await new Promise<void>((resolve) => heldReads.push(resolve));
    return await getMessages(ids);
  };
  const clock = new ManualClock();
  const run = startActors(store, clock, [queue], { holding: true });
  const deliverer = run.deliverers.get(queue)!;
  const fillers: ReturnType<typeof fillGate>[] = [];
  const gate = store.queueReads;
  try {
    await waitFor("the first message on the wire", () => deliverer.sent.length === 1);
    await waitFor("the read ahead in the gate", () => heldReads.length === 1);
    fillers.push(fillGate(store));
    await fillers[0]!.ready();

    // A look is due; the actor is cold and the gate full: the look waits, the next goes out.
    clock.advance(POLL_MS);
    deliverer.answer();
    await waitFor("the second message on the wire", () => deliverer.sent.length === 2);
    assert.equal(gate.waiting, 0, "the look did not wait in line");

    // The read ahead ends (KV still holds more: cold); others fill its slot.
    heldReads.shift()!();
    await waitFor("the read ahead done", () => gate.running === gate.limit - 1);
    fillers.push(fillGate(store));
    await fillers[1]!.ready();

    // Ten polls on, the look waits its turn in line, and nothing goes out meanwhile.
    clock.advance(10 * POLL_MS);
    deliverer.answer();
    await waitFor("the look in line", () => gate.waiting === 1);
    assert.equal(deliverer.sent.length, 2);

    for (const f of fillers) await f.end();
    deliverer.holding = false;
    deliverer.answer();
    // What the look brings is read with the gate free: the rest goes out, all in order.
    for (;;) {
      const release = heldReads.shift();
      if (release) release();
      if (deliverer.sent.length === total) break;
      await waitFor(
        "more sent or a read",
        () => deliverer.sent.length === total || heldReads.length > 0,
      );
    }
    assert.deepEqual(deliverer.sent, names);
    await waitFor("every completion committed", async () => await store.depth(queue) === 0);
  } finally {
    for (const release of heldReads) release();
    for (const f of fillers) await f.end();
    deliverer.holding = false;
    deliverer.answer();
    await run.stop();
    store.close();
  }
});

Deno.test("an actor restoring its backlog lists its queue once through the read gate: a complete first read from the head warms it", async () => {
  await using dir = await tempDir({ prefix: "backlog-reads-once-" });
  const store = await Store.open({ path: `${dir.path}/engine.kv`, node: "test" });
  const queues = Array.from({ length: 6 }, (_, q) => `mllp-out:fake:${q}`);
  for (let m = 0; m < 5; m++) {
    for (const [q, queue] of queues.entries()) await enqueueAdt(store, queue, `Q${q}-M${m}`);
  }
  let gated = 0;
  const run0 = store.queueReads.run.bind(store.queueReads);
  store.queueReads.run = (read) => {
    gated++;
    return run0(read);
  };
  const clock = new ManualClock();
  const run = startActors(store, clock, queues);
  try {
    const sent = () => [...run.deliverers.values()].reduce((n, d) => n + d.sent.length, 0);
    await waitFor("every backlog delivered", () => sent() === queues.length * 5);
    for (const [q, queue] of queues.entries()) {
      const order = Array.from({ length: 5 }, (_, m) => `Q${q}-M${m}`);
      assert.deepEqual(run.deliverers.get(queue)!.sent, order);
    }
    // One read each: the second (on from the cursor, to learn nothing new) is gone.
    assert.equal(gated, queues.length);
  } finally {
    await run.stop();
    store.close();
  }
});

Deno.test("an actor whose first read waited in the read gate's line past a poll period does not list its queue again at once", async () => {
  await using dir = await tempDir({ prefix: "backlog-reads-line-" });
  const store = await Store.open({ path: `${dir.path}/engine.kv`, node: "test" });
  const queue = "mllp-out:fake:line";
  for (let m = 0; m < 5; m++) await enqueueAdt(store, queue, `L-M${m}`);
  let listed = 0;
  const peek = store.peek.bind(store);
  store.peek = (...args) => {
    listed++;
    return peek(...args);
  };
  const others = fillGate(store);
  await others.ready();
  const clock = new ManualClock();
  const run = startActors(store, clock, [queue]);
  const deliverer = run.deliverers.get(queue)!;
  try {
    await waitFor("the first read in line", () => store.queueReads.waiting === 1);
    // Seconds in line, as behind a thousand backlogs restoring: a poll period and more pass.
    clock.advance(2 * POLL_MS);
    await others.end();
    await waitFor("the backlog delivered", () => deliverer.sent.length === 5);
    await waitFor("the actor idle", () => clock.pending === 1);
    assert.deepEqual(deliverer.sent, [0, 1, 2, 3, 4].map((m) => `L-M${m}`));
    // Its look from the head counts from when it listed, not from when it joined the line.
    assert.equal(listed, 1, "the queue was listed once");
    clock.advance(POLL_MS);
    await waitFor("the next poll period's look", () => listed === 2);
  } finally {
    await others.end();
    await run.stop();
    store.close();
  }
});
