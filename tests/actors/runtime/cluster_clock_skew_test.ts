/**
 * Membership with skewed wall clocks: two `Cluster`s in one process over one real KV file, each
 * with its own injected wall clock and a monotonic clock the test moves. Liveness follows whether
 * a node's heartbeat record changes, measured on the reader's monotonic clock, whatever the
 * writer's stamp says; the skew is estimated, shown and logged once; ids stay ordered across the
 * nodes; a record that stopped changing long ago is removed.
 */

import assert from "node:assert/strict";
import { Cluster } from "../../../actors/runtime/cluster.ts";
import { memoryLogger } from "../../../actors/runtime/log.ts";
import { IdGenerator } from "../../../actors/store/ids.ts";
import { NodeRegistry } from "../../../actors/store/nodes.ts";
import { Store } from "../../../actors/store/mod.ts";
import { enqueueAdt } from "../../helpers/queue.ts";
import { tempDir } from "../../helpers/temp.ts";
import { LEASE, storeCluster } from "./store_cluster.ts";

const HOUR = 3_600_000;

interface Node {
  cluster: Cluster;
  /** Offset of this node's wall clock from the test's base time. */
  skew: number;
}

/**
 * A sender failing over: F-0..2 queued through `from`, then (after `between`) F-3..5 through `to`;
 * asserts that the queue holds them in the order sent.
 */
async function assertFailoverInOrder(
  from: Store,
  to: Store,
  between: () => Promise<void> = () => Promise.resolve(),
): Promise<void> {
  const sent: string[] = [];
  for (let i = 0; i < 3; i++) {
    sent.push((await enqueueAdt(from, "mllp-out:ehr", `F-${i}`)).messageId);
  }
  await between();
  for (let i = 3; i < 6; i++) {
    sent.push((await enqueueAdt(to, "mllp-out:ehr", `F-${i}`)).messageId);
  }
  const queued = await from.peek("mllp-out:ehr", 10);
  assert.deepEqual(queued.map((h) => h.entry.messageId), sent, "queued in the order sent");
}

/** Two clusters `a` and `b` on one KV file; `mono` is the monotonic time both read. */
async function twoNodes(
  fn: (
    nodes: { a: Node; b: Node },
    clock: { wall: number; mono: number },
    log: ReturnType<typeof memoryLogger>,
    kv: Deno.Kv,
  ) => Promise<void>,
  skews: { a: number; b: number },
  ids: { a?: IdGenerator; b?: IdGenerator } = {},
): Promise<void> {
  await using dir = await tempDir({ prefix: "cluster-skew-" });
  const kv = await Deno.openKv(`${dir.path}/engine.kv`);
  const clock = { wall: Date.now(), mono: 1_000 };
  const log = memoryLogger();
  const make = (id: "a" | "b"): Node => ({
    skew: skews[id],
    cluster: new Cluster({
      registry: new NodeRegistry(kv),
      node: `node-${id}`,
      leaseMs: LEASE,
      now: () => clock.wall + skews[id],
      monotonic: () => clock.mono,
      ...(ids[id] ? { ids: ids[id] } : {}),
      log,
      load: () => ({ actors: 0, load: 0 }),
    }),
  });
  try {
    await fn({ a: make("a"), b: make("b") }, clock, log, kv);
  } finally {
    kv.close();
  }
}

/** Both beat once a second for `seconds` (monotonic and wall time move together). */
async function beat(clock: { wall: number; mono: number }, nodes: Node[], seconds: number) {
  for (let i = 0; i < seconds; i++) {
    clock.wall += 1_000;
    clock.mono += 1_000;
    for (const n of nodes) await n.cluster.refresh();
  }
}

for (
  const [name, skews] of [
    ["ahead an hour", { a: HOUR, b: 0 }],
    ["behind an hour (the survivor's clock ahead)", { a: 0, b: HOUR }],
    ["a month ahead", { a: 31 * 24 * HOUR, b: 0 }],
  ] as const
) {
  Deno.test(`a node whose clock is ${name} is seen dead a lease after its last heartbeat`, async () => {
    await twoNodes(async ({ a, b }, clock) => {
      await beat(clock, [a, b], 3);
      assert.deepEqual(b.cluster.liveIds, ["node-a", "node-b"]);
      // a is killed: no more heartbeats. b's wall clock keeps its own pace.
      clock.mono += LEASE - 1_000;
      clock.wall += LEASE - 1_000;
      assert.equal(await b.cluster.refresh(), false, "within a lease: still live");
      clock.mono += 1_001;
      clock.wall += 1_001;
      assert.equal(await b.cluster.refresh(), true);
      assert.deepEqual(b.cluster.liveIds, ["node-b"]);
      const view = await b.cluster.nodes();
      assert.deepEqual(view.map((n) => [n.id, n.live]), [["node-a", false], ["node-b", true]]);
    }, skews);
  });
}

Deno.test("a node beating with its clock an hour behind stays live for the others", async () => {
  await twoNodes(async ({ a, b }, clock) => {
    await beat(clock, [a, b], 2 * LEASE / 1_000);
    assert.deepEqual(b.cluster.liveIds, ["node-a", "node-b"]);
    assert.deepEqual(a.cluster.liveIds, ["node-a", "node-b"]);
    // Both views agree on /admin/nodes.
    for (const n of [a, b]) {
      assert.deepEqual((await n.cluster.nodes()).map((v) => v.live), [true, true]);
    }
  }, { a: -HOUR, b: 0 });
});

Deno.test("a node's clock offset is estimated, shown on nodes() and logged once per skew episode", async () => {
  await twoNodes(async ({ a, b }, clock, log) => {
    await beat(clock, [a, b], 4);
    const skewLines = () => log.lines.filter((l) => l.includes("cluster.clock-skew"));
    const fromB = (await b.cluster.nodes()).find((n) => n.id === "node-a")!;
    // Estimated within a heartbeat period.
    assert.ok(Math.abs(fromB.clockOffsetMs! - HOUR) <= 1_000, String(fromB.clockOffsetMs));
    assert.equal((await b.cluster.nodes()).find((n) => n.self)!.clockOffsetMs, 0);
    const fromA = (await a.cluster.nodes()).find((n) => n.id === "node-b")!;
    assert.ok(Math.abs(fromA.clockOffsetMs! + HOUR) <= 1_000, String(fromA.clockOffsetMs));
    // Each side logs the other once, however many heartbeats show the same skew.
    const lines = skewLines().filter((l) => l.includes("source=heartbeat"));
    assert.equal(lines.filter((l) => l.includes("node=node-a")).length, 1, lines.join("\n"));
    assert.equal(lines.filter((l) => l.includes("node=node-b")).length, 1, lines.join("\n"));
    assert.match(
      lines.find((l) => l.includes("node=node-a"))!,
      /WARN\s+cluster\.clock-skew node=node-a offsetMs=3[56]\d{5}/,
    );
  }, { a: HOUR, b: 0 });
});

Deno.test("a small offset (under a third of a lease) is shown but not logged", async () => {
  await twoNodes(async ({ a, b }, clock, log) => {
    await beat(clock, [a, b], 4);
    const view = (await b.cluster.nodes()).find((n) => n.id === "node-a")!;
    assert.ok(Math.abs(view.clockOffsetMs! - 1_500) <= 1_000, String(view.clockOffsetMs));
    assert.deepEqual(log.lines.filter((l) => l.includes("cluster.clock-skew")), []);
  }, { a: 1_500, b: 0 });
});

Deno.test("ids stay ordered across a sender's failover between nodes whose clocks differ by an hour", async () => {
  await using dir = await tempDir({ prefix: "cluster-ids-" });
  const path = `${dir.path}/engine.kv`;
  let wall = Date.now();
  let mono = 0;
  // node-b's clock is an hour behind node-a's: node-a takes the first messages, then the sender
  // fails over to node-b.
  const storeA = await Store.open({ path, node: "skew-ids-a", now: () => wall });
  const storeB = await Store.open({ path, node: "skew-ids-b", now: () => wall - HOUR });
  const log = memoryLogger();
  const a = storeCluster(storeA, () => wall, () => mono, log);
  const b = storeCluster(storeB, () => wall - HOUR, () => mono, log);
  try {
    for (const c of [a, b]) await c.refresh();
    await assertFailoverInOrder(storeA, storeB, async () => {
      // A heartbeat of each later (node-a's carries its newest id; node-b reads it).
      wall += 1_000;
      mono += 1_000;
      for (const c of [a, b]) await c.refresh();
    });
    // node-a's ids are an hour ahead of node-b's clock: logged by node-b.
    assert.ok(
      log.lines.some((l) => l.includes("cluster.clock-skew") && l.includes("source=ids")),
      log.lines.join("\n"),
    );
  } finally {
    storeA.close();
    storeB.close();
  }
});

Deno.test("a sender failing over at once from a node whose clock is ahead: its messages still queue in order", async () => {
  await using dir = await tempDir({ prefix: "cluster-ids-" });
  const path = `${dir.path}/engine.kv`;
  const wall = Date.now();
  let mono = 0;
  const storeA = await Store.open({ path, node: "skew-now-a", now: () => wall });
  const storeB = await Store.open({ path, node: "skew-now-b", now: () => wall - HOUR });
  const a = storeCluster(storeA, () => wall, () => mono);
  const b = storeCluster(storeB, () => wall - HOUR, () => mono);
  try {
    for (let i = 0; i < 2; i++) {
      for (const c of [a, b]) await c.refresh();
      mono += 1_000;
    }
    // No heartbeat between node-a's messages and node-b's: node-b has not seen node-a's ids.
    await assertFailoverInOrder(storeA, storeB);
  } finally {
    storeA.close();
    storeB.close();
  }
});

Deno.test("after a node's forward excursion its ids stay ahead, and a failover from it still queues in order", async () => {
  await using dir = await tempDir({ prefix: "cluster-ids-" });
  const path = `${dir.path}/engine.kv`;
  const wall = Date.now();
  let stepA = 31 * 24 * HOUR;
  let mono = 0;
  const storeA = await Store.open({ path, node: "excursion-a", now: () => wall + stepA });
  const storeB = await Store.open({ path, node: "excursion-b", now: () => wall });
  const a = storeCluster(storeA, () => wall + stepA, () => mono);
  const b = storeCluster(storeB, () => wall, () => mono);
  try {
    await enqueueAdt(storeA, "mllp-out:other", "during the excursion");
    stepA = 0; // node-a's clock is right again; its ids stay at the excursion's millisecond
    for (let i = 0; i < 2; i++) {
      for (const c of [a, b]) await c.refresh();
      mono += 1_000;
    }
    // More of node-a's ids (in that same millisecond) after node-b's last look, then a failover.
    await assertFailoverInOrder(storeA, storeB);
  } finally {
    storeA.close();
    storeB.close();
  }
});

Deno.test("IdGenerator.observe keeps later ids after an id of the same millisecond", () => {
  const a = new IdGenerator("obs-a"), b = new IdGenerator("obs-b");
  const t = 1_700_000_000_000;
  let fromA = "";
  for (let i = 0; i < 5; i++) fromA = a.next(t);
  b.next(t);
  b.observe(fromA);
  assert.ok(b.next(t) > fromA);
  assert.equal(a.newest(), fromA);
  assert.equal(new IdGenerator("obs-c").newest(), undefined);
});

Deno.test("a record unchanged for six leases (at least a minute) is removed from KV; a live one never", async () => {
  await twoNodes(async ({ a, b }, clock, _log, kv) => {
    await beat(clock, [a, b], 2);
    // a stops beating; b goes on for a minute.
    for (let i = 0; i < 59; i++) {
      clock.mono += 1_000;
      await b.cluster.refresh();
    }
    assert.deepEqual((await b.cluster.nodes()).map((n) => n.id), ["node-a", "node-b"]);
    clock.mono += 1_000;
    await b.cluster.refresh();
    assert.deepEqual((await b.cluster.nodes()).map((n) => n.id), ["node-b"]);
    assert.equal((await kv.get(["nodes", "node-a"])).value, null);
  }, { a: 0, b: 0 });
});
