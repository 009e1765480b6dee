/**
 * Scale-out ordering: two stores (two nodes) on one KV file feed one destination queue; a queue
 * entry's seq is made at intake, so an entry one node commits late may sort before entries the
 * owner has already delivered. While KV is shared the owner confirms the KV queue's head before
 * each send (the late entry goes before its sender's next message) and its socket sends nothing
 * ahead; alone, it reads nothing more from KV per message. Real KV file, real MLLP receiver on
 * loopback, the engine's socket-thread connector.
 */

import assert from "node:assert/strict";
import { DeliveryActor } from "../../../actors/delivery/delivery_actor.ts";
import { fencedDeliverer } from "../../../actors/delivery/fenced_deliverer.ts";
import { MllpDeliverer } from "../../../actors/mllp_out/mllp_deliverer.ts";
import { Cluster } from "../../../actors/runtime/cluster.ts";
import { systemClock } from "../../../actors/runtime/clock.ts";
import { memoryLogger } from "../../../actors/runtime/log.ts";
import { Supervisor } from "../../../actors/runtime/supervisor.ts";
import { NodeRegistry } from "../../../actors/store/nodes.ts";
import { Store } from "../../../actors/store/store.ts";
import { waitFor } from "../../helpers/net.ts";
import { WatchedThreadConnector } from "../../helpers/outbound.ts";
import { countPeeks, enqueueAdt } from "../../helpers/queue.ts";
import { controlIds, type RawReceiver, startReceiver } from "../../helpers/receivers.ts";
import { tempDir } from "../../helpers/temp.ts";

/** Long enough that no periodic look from the head happens during a test (only the first). */
const NO_POLL_MS = 3_600_000;

/** Node b's clock runs this far behind while it takes a message in: its seq sorts first. */
const LATE_MS = 60_000;

/** Two stores on one KV file, a receiver answering AA, and node a's actor for its queue. */
async function twoNodes(shared: boolean) {
  const dir = await tempDir({ prefix: "shared-head-" });
  const path = `${dir.path}/engine.kv`;
  const a = await Store.open({ path, node: "a" });
  let behind = 0;
  const b = await Store.open({ path, node: "b", now: () => Date.now() - behind });
  const receiver: RawReceiver = startReceiver((f) => f.ack("AA"));
  const actorId = `mllp-out:127.0.0.1:${receiver.port}`;
  const log = memoryLogger();
  const connector = new WatchedThreadConnector();
  const inner = new MllpDeliverer({
    actorId,
    target: { host: "127.0.0.1", port: receiver.port },
    connector,
    clock: systemClock,
    log,
    connectTimeoutMs: 2000,
    settings: () => ({ ackTimeoutMs: 2000, onNack: "retry" }),
  });
  const gate = { beginSend: () => true, endSend: () => {}, shared: () => shared };
  const actor = new DeliveryActor({
    id: actorId,
    kind: "mllp-out",
    store: a,
    deliverer: fencedDeliverer(actorId, inner, () => gate),
    clock: systemClock,
    log,
    pollMs: NO_POLL_MS,
  });
  // KV lists node a's actor makes of its queue.
  const peeks = countPeeks(a, (queue) => queue === actorId);
  const abort = new AbortController();
  let running: Promise<void> | undefined;
  return {
    a,
    b,
    receiver,
    actorId,
    actor,
    connector,
    get peeks() {
      return peeks();
    },
    start() {
      running = actor.run(abort.signal);
    },
    /** Node a takes `controlId` in (its actor is told, as the supervisor does while shared). */
    async onA(controlId: string) {
      await enqueueAdt(a, actorId, controlId);
      actor.notify();
    },
    /** Node b takes `controlId` in, its seq made `late` (sorting before what a has sent). */
    async onB(controlId: string, late = false) {
      behind = late ? LATE_MS : 0;
      try {
        await enqueueAdt(b, actorId, controlId);
      } finally {
        behind = 0;
      }
      actor.notify();
    },
    async [Symbol.asyncDispose]() {
      abort.abort();
      try {
        await running;
      } finally {
        connector.close();
        await receiver.close();
        a.close();
        b.close();
        await dir[Symbol.asyncDispose]();
      }
    },
  };
}

/** Received control ids that arrived more than once. */
function repeated(ids: string[]): string[] {
  return ids.filter((id, i) => ids.indexOf(id) !== i);
}

Deno.test("shared KV: an entry another node commits late with an older seq goes before that sender's next message, nothing is received twice, and nothing is sent ahead", async () => {
  await using t = await twoNodes(true);
  t.start();
  for (const id of ["A-1", "A-2", "A-3", "A-4"]) await t.onA(id);
  await waitFor("A-1..A-4 received", () => t.receiver.frames.length >= 4);
  // Node b took B-1 in before A-1 (older seq) but commits it only now, then B-2 (after its ACK).
  await t.onB("B-1", true);
  await t.onB("B-2");
  await t.onA("A-5");
  await t.onA("A-6");
  await waitFor(
    "B-2 and A-6 received",
    () => controlIds(t.receiver).includes("B-2") && controlIds(t.receiver).includes("A-6"),
  );
  const got = controlIds(t.receiver);
  const b1 = got.indexOf("B-1");
  assert.ok(b1 >= 0 && b1 < got.indexOf("B-2"), `B-1 must arrive before B-2: ${got.join(" ")}`);
  assert.deepEqual(got.filter((id) => id.startsWith("A-")), [
    "A-1",
    "A-2",
    "A-3",
    "A-4",
    "A-5",
    "A-6",
  ]);
  assert.deepEqual(repeated(got), []);
  assert.deepEqual(t.connector.sentAhead, [], "nothing is sent ahead while KV is shared");
  await waitFor("the queue emptied", async () => (await t.a.peek(t.actorId)).length === 0);
});

Deno.test("shared KV: late entries of two senders interleaved with a backlog each keep their sender's order, once each", async () => {
  await using t = await twoNodes(true);
  t.start();
  // Rounds of: a's messages delivered, then b's late one (older seq) and b's next one.
  for (let round = 1; round <= 5; round++) {
    for (let i = 1; i <= 3; i++) await t.onA(`A-${round}.${i}`);
    await waitFor(
      `round ${round} of a received`,
      () => controlIds(t.receiver).includes(`A-${round}.3`),
    );
    await t.onB(`B-${round}.1`, true);
    await t.onB(`B-${round}.2`);
  }
  await waitFor("B-5.2 received", () => controlIds(t.receiver).includes("B-5.2"));
  const got = controlIds(t.receiver);
  const bs = got.filter((id) => id.startsWith("B-"));
  const expected = [1, 2, 3, 4, 5].flatMap((r) => [`B-${r}.1`, `B-${r}.2`]);
  assert.deepEqual(bs, expected, `node b's sender in order: ${got.join(" ")}`);
  assert.deepEqual(repeated(got), []);
});

Deno.test("alone on its KV, an actor lists its queue in KV a few times in all, not once per message; shared, once per message", async () => {
  const count = 40;
  const peeksFor = async (shared: boolean) => {
    await using t = await twoNodes(shared);
    for (let i = 1; i <= count; i++) await enqueueAdt(t.a, t.actorId, `A-${i}`);
    const before = t.peeks;
    t.start();
    await waitFor(`${count} received`, () => t.receiver.frames.length >= count);
    assert.deepEqual(controlIds(t.receiver), Array.from({ length: count }, (_, i) => `A-${i + 1}`));
    return t.peeks - before;
  };
  const alone = await peeksFor(false);
  assert.ok(alone <= 4, `alone: ${alone} lists for ${count} messages`);
  const shared = await peeksFor(true);
  assert.ok(shared >= count, `shared: ${shared} lists for ${count} messages`);
});

Deno.test("the supervisor says KV is shared while another node's heartbeat is live, and its deliverers pass that on", async () => {
  await using dir = await tempDir({ prefix: "shared-nodes-" });
  const path = `${dir.path}/engine.kv`;
  const a = await Store.open({ path, node: "a" });
  const b = await Store.open({ path, node: "b" });
  try {
    const cluster = (store: Store, node: string) =>
      new Cluster({
        registry: new NodeRegistry(store.kv),
        node,
        leaseMs: 60_000,
        now: Date.now,
        load: () => ({ actors: 0, load: 0 }),
      });
    const ca = cluster(a, "a");
    const supervisor = new Supervisor({
      store: a,
      factory: () => undefined,
      log: memoryLogger(),
      cluster: ca,
      pollMs: 0,
    });
    const inner = {
      deliver: () => Promise.resolve({ ok: true as const, detail: "AA" }),
      close: () => Promise.resolve(),
    };
    const fenced = fencedDeliverer("mllp-out:127.0.0.1:1", inner, () => supervisor);
    await ca.refresh();
    assert.equal(supervisor.shared(), false);
    assert.equal(fenced.shared?.(), false);
    await cluster(b, "b").refresh();
    await ca.refresh();
    assert.equal(supervisor.shared(), true);
    assert.equal(fenced.shared?.(), true);
    assert.equal(
      new Supervisor({ store: a, factory: () => undefined, log: memoryLogger() }).shared(),
      false,
    );
  } finally {
    a.close();
    b.close();
  }
});
