/**
 * An MLLP destination moved to another port by a reload while a message routed under the old
 * config has not committed yet (red team 15, F1): the new address's receiver gets that message
 * before the same sender's next messages, and after the ones stored before it. Real engine, real
 * KV file, real sockets; the route is paused at its commit by a seam on the engine's store
 * (`accept`, `routeEntries`).
 */

import assert from "node:assert/strict";
import type { Config } from "../../../actors/config/mod.ts";
import type { Store } from "../../../actors/store/store.ts";
import { configFrom, startEngine, type TestEngine } from "../../helpers/engine.ts";
import { adt, waitFor } from "../../helpers/net.ts";
import { RawMllpSender, summarizeAck } from "../../helpers/raw_sender.ts";
import { controlIds, type RawReceiver, startReceiver } from "../../helpers/receivers.ts";
import { tempDir } from "../../helpers/temp.ts";

/** One MLLP feed, subscribed by destination `dest` at 127.0.0.1:`port`. */
function configJson(kv: string, port: number, ackMode?: "enhanced"): Record<string, unknown> {
  return {
    node: { id: "test" },
    kv: { path: kv },
    environments: [{ id: "dev", type: "development" }],
    integrations: [{
      id: "feed",
      environment: "dev",
      mllp: { port: 0, allowedIps: ["127.0.0.1"], ...(ackMode ? { ackMode } : {}) },
    }],
    destinations: [{ id: "dest", environment: "dev", mllp: { host: "127.0.0.1", port } }],
    subscriptions: [{ from: { integration: "feed" }, to: ["dest"] }],
  };
}

/** `running` with `dest` at `port`. */
function movedTo(running: Config, port: number): Config {
  return {
    ...running,
    destinations: running.destinations.map((d) => ({ ...d, mllp: { ...d.mllp!, port } })),
  };
}

/** Holds the commit of the message `controlId` (its route already decided) until released. */
function holdCommitOf(store: Store, controlId: string) {
  let reached!: () => void;
  let release!: () => void;
  const atCommit = new Promise<void>((r) => reached = r);
  const released = new Promise<void>((r) => release = r);
  const accept = store.accept.bind(store);
  store.accept = async (request) => {
    if (request.controlId === controlId) {
      // Routed at intake: the deliveries name the old address's queue.
      assert.ok(request.deliveries?.length, "routed at intake");
      reached();
      await released;
    }
    return await accept(request);
  };
  return { atCommit, release };
}

async function moveWhileRouting(e: TestEngine, a: RawReceiver, b: RawReceiver) {
  const store = e.engine.store;
  const first = await RawMllpSender.connect(e.mllpPort);
  const second = await RawMllpSender.connect(e.mllpPort);
  try {
    for (const id of ["BEFORE-1", "BEFORE-2"]) {
      assert.equal(summarizeAck(await first.request(adt(id))).code, "AA", id);
    }
    await waitFor("A has the first two", () => a.frames.length === 2);
    const held = holdCommitOf(store, "PAUSED");
    // Routed under the old config (to A's queue), its commit held.
    const paused = first.request(adt("PAUSED"));
    await held.atCommit;
    const next = movedTo(e.engine.config, b.port);
    let applied = false;
    const reloading = e.engine.reconfigure(next, "moved", Date.now()).then((lines) => {
      applied = true;
      return lines;
    });
    await waitFor("the new config runs", () => e.engine.config === next);
    // Routed after the reload, to B's queue, and stored (acknowledged) while PAUSED waits: in
    // the order received, they come before it.
    const other = ["OTHER-1", "OTHER-2"];
    for (const id of other) {
      assert.equal(summarizeAck(await second.request(adt(id))).code, "AA", id);
    }
    // The move waits for PAUSED's commit: not applied before it.
    const appliedBeforeCommit = applied;
    held.release();
    assert.equal(summarizeAck(await paused).code, "AA", "PAUSED");
    // The same sender's next messages, sent once PAUSED is acknowledged, go after it.
    const next1 = ["NEXT-1", "NEXT-2", "NEXT-3"];
    for (const id of next1) {
      assert.equal(summarizeAck(await first.request(adt(id))).code, "AA", id);
    }
    const lines = await reloading;
    assert.ok(
      lines.includes(`moved mllp-out:127.0.0.1:${a.port} to mllp-out:127.0.0.1:${b.port}`),
      lines.join("; "),
    );
    const expected = [...other, "PAUSED", ...next1];
    await waitFor("B has every later message", () => b.frames.length >= expected.length);
    assert.deepEqual(controlIds(b), expected);
    assert.equal(appliedBeforeCommit, false);
    assert.deepEqual(controlIds(a), ["BEFORE-1", "BEFORE-2"]);
    assert.equal(await store.depth(`mllp-out:127.0.0.1:${a.port}`), 0);
    assert.ok(!e.log.lines.some((l) => / WARN +config\.move-waited /.test(l)));
  } finally {
    await first.close();
    await second.close();
  }
}

Deno.test("a destination moved while a message routed under the old config is still committing delivers it at the new address before its sender's next messages", async () => {
  await using dir = await tempDir({ prefix: "move-in-progress-" });
  const a = startReceiver((f) => f.ack("AA"));
  const b = startReceiver((f) => f.ack("AA"));
  // The watcher of old queues looks every second (as by default), not every 50 ms.
  const e = await startEngine(configFrom(configJson(`${dir.path}/engine.kv`, a.port)), {
    pollMs: 1000,
  });
  try {
    await moveWhileRouting(e, a, b);
  } finally {
    await e.close();
    await a.close();
    await b.close();
  }
});

/** Holds the routing commit of the inbound actor for message `controlId` until released. */
function holdRouteOf(store: Store, controlId: string) {
  let reached!: () => void;
  let release!: () => void;
  const atCommit = new Promise<void>((r) => reached = r);
  const released = new Promise<void>((r) => release = r);
  const routeEntries = store.routeEntries.bind(store);
  store.routeEntries = async (head, deliveries, receive, options) => {
    if (deliveries[0]?.log.controlId === controlId) {
      reached();
      await released;
    }
    return await routeEntries(head, deliveries, receive, options);
  };
  return { atCommit, release };
}

Deno.test("a destination moved while the application step's route under the old config is still committing delivers it at the new address before the next messages", async () => {
  await using dir = await tempDir({ prefix: "move-in-progress-app-" });
  const a = startReceiver((f) => f.ack("AA"));
  const b = startReceiver((f) => f.ack("AA"));
  // Enhanced mode: messages are stored for the inbound actor, which routes them.
  const json = configJson(`${dir.path}/engine.kv`, a.port, "enhanced");
  const e = await startEngine(configFrom(json), { pollMs: 1000 });
  const sender = await RawMllpSender.connect(e.mllpPort);
  try {
    const held = holdRouteOf(e.engine.store, "PAUSED");
    assert.equal(summarizeAck(await sender.request(adt("PAUSED"))).code, "CA");
    // Routed by the inbound actor under the old config (to A's queue), its commit held.
    await held.atCommit;
    const next = movedTo(e.engine.config, b.port);
    let applied = false;
    const reloading = e.engine.reconfigure(next, "moved", Date.now()).then((lines) => {
      applied = true;
      return lines;
    });
    await waitFor("the new config runs", () => e.engine.config === next);
    const appliedBeforeCommit = applied;
    held.release();
    await waitFor("PAUSED is routed", async () =>
      await e.engine.store.depth(
        `mllp-in:${e.mllpPort}:127.0.0.1`,
      ) === 0);
    const after = ["NEXT-1", "NEXT-2", "NEXT-3"];
    for (const id of after) {
      assert.equal(summarizeAck(await sender.request(adt(id))).code, "CA", id);
    }
    await reloading;
    await waitFor("B has every message", () => b.frames.length >= 1 + after.length);
    assert.deepEqual(controlIds(b), ["PAUSED", ...after]);
    assert.equal(appliedBeforeCommit, false);
    assert.equal(a.frames.length, 0);
  } finally {
    await sender.close();
    await e.close();
    await a.close();
    await b.close();
  }
});
