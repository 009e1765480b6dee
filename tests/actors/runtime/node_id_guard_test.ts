/**
 * One process per node id on a shared KV: two `Cluster`s with the same node id, each on its own
 * handle of one real KV file (as two processes over KV Connect would be), a `ManualClock` pacing
 * the start's wait. A second process refuses while the first runs; starts at once after a clean
 * stop, and after the wait once the first was killed; a running process whose record another
 * process took fences itself.
 */

import assert from "node:assert/strict";
import { claimWaitMs, Cluster, NodeIdInUseError } from "../../../actors/runtime/cluster.ts";
import { ManualClock } from "../../../actors/runtime/clock.ts";
import { memoryLogger } from "../../../actors/runtime/log.ts";
import { type NodeRecord, NodeRegistry } from "../../../actors/store/nodes.ts";
import { tempDir } from "../../helpers/temp.ts";

const LEASE = 10_000;
const NODE = "node-1";
const actors = Array.from({ length: 50 }, (_, i) => `https:dest-${i}`);

interface Process {
  cluster: Cluster;
  kv: Deno.Kv;
  log: ReturnType<typeof memoryLogger>;
}

/** Two "processes" (`make()`) on one KV file; `clock` paces the start's wait and liveness. */
async function withKvFile(
  fn: (
    make: (node?: string) => Promise<Process>,
    clock: ManualClock,
    path: string,
  ) => Promise<void>,
): Promise<void> {
  await using dir = await tempDir({ prefix: "node-id-guard-" });
  const path = `${dir.path}/engine.kv`;
  const clock = new ManualClock(Date.now());
  const opened: Deno.Kv[] = [];
  const make = async (node = NODE): Promise<Process> => {
    const kv = await Deno.openKv(path);
    opened.push(kv);
    const log = memoryLogger();
    const cluster = new Cluster({
      registry: new NodeRegistry(kv),
      node,
      leaseMs: LEASE,
      now: () => clock.now(),
      monotonic: () => clock.monotonic(),
      clock,
      log,
      load: () => ({ actors: 0, load: 0 }),
    });
    return { cluster, kv, log };
  };
  try {
    await fn(make, clock, path);
  } finally {
    for (const kv of opened) kv.close();
  }
}

/** The record of `node` in the KV at `kv`. */
async function recordOf(kv: Deno.Kv, node = NODE): Promise<NodeRecord | undefined> {
  return (await new NodeRegistry(kv).entry(node))?.record;
}

/** Lines of `log` naming `event`. */
const linesOf = (log: { lines: string[] }, event: string) =>
  log.lines.filter((l) => l.includes(event));

/** Resolves once `p` settled, or after a few turns of the event loop (a KV read or two). */
async function settledSoon(p: Promise<unknown>): Promise<boolean> {
  let settled = false;
  p.then(() => settled = true, () => settled = true);
  for (let i = 0; i < 20 && !settled; i++) await new Promise((r) => setTimeout(r, 5));
  return settled;
}

Deno.test("a second process with a running node's id refuses to start, and writes nothing", async () => {
  await withKvFile(async (make, clock) => {
    const first = await make();
    await first.cluster.refresh();
    const second = await make();
    const start = second.cluster.refresh();
    start.catch(() => {});
    // The first keeps beating (once a second) while the second watches its record.
    let refused: unknown;
    start.catch((e) => refused = e);
    for (let i = 0; i < 40 && refused === undefined; i++) {
      await first.cluster.refresh();
      clock.advance(250);
      await settledSoon(start);
    }
    assert.ok(refused instanceof NodeIdInUseError, `refused: ${refused}`);
    assert.match((refused as Error).message, /node\.id "node-1" is in use/);
    assert.match((refused as Error).message, /its own node\.id/);
    const errors = linesOf(second.log, "cluster.node-id-in-use");
    assert.equal(errors.length, 1, second.log.lines.join("\n"));
    assert.match(errors[0]!, /ERROR/);
    assert.match(errors[0]!, /node-1/);
    // The record is still the first's, which keeps running undisturbed.
    assert.equal((await recordOf(first.kv))?.instance, first.cluster.instance);
    assert.equal(await first.cluster.refresh(), false);
    assert.equal(first.cluster.fenced, false);
    assert.ok(actors.every((a) => first.cluster.isMine(a)));
  });
});

Deno.test("after a clean stop the next process with that node id starts at once; the others see the node gone", async () => {
  await withKvFile(async (make) => {
    const first = await make();
    const other = await make("node-2");
    await first.cluster.refresh();
    await other.cluster.refresh();
    assert.deepEqual(other.cluster.liveIds, ["node-1", "node-2"]);
    await first.cluster.leave();
    const mark = await recordOf(first.kv);
    assert.equal(typeof mark?.stopped, "number", "a clean stop marks the record stopped");
    assert.equal(mark?.instance, first.cluster.instance);
    // The stopped node is gone for the others at their next look, not a lease later.
    assert.equal(await other.cluster.refresh(), true);
    assert.deepEqual(other.cluster.liveIds, ["node-2"]);
    const second = await make();
    // No clock advance: a start that waited would not settle.
    const start = second.cluster.refresh();
    assert.equal(await settledSoon(start), true, "started without waiting");
    await start;
    assert.equal(linesOf(second.log, "cluster.node-id-taken-over").length, 0);
    const now = await recordOf(second.kv);
    assert.equal(now?.instance, second.cluster.instance);
    assert.equal(now?.stopped, undefined);
  });
});

Deno.test("after the first process was killed the next one starts once the record stayed unchanged for a heartbeat plus margin", async () => {
  await withKvFile(async (make, clock) => {
    const first = await make();
    await first.cluster.refresh();
    const left = await recordOf(first.kv);
    const wait = claimWaitMs(left!, 1000);
    assert.ok(wait >= 1000 && wait <= LEASE, `wait ${wait}`);
    // Killed: no stop, no more heartbeats.
    const second = await make();
    const start = second.cluster.refresh();
    start.catch(() => {});
    let advanced = 0;
    while (advanced < wait - 250) {
      clock.advance(250);
      advanced += 250;
      assert.equal(await settledSoon(start), false, `started after ${advanced} of ${wait} ms`);
    }
    for (let i = 0; i < 10 && !(await settledSoon(start)); i++) clock.advance(250);
    await start;
    const line = linesOf(second.log, "cluster.node-id-taken-over");
    assert.equal(line.length, 1, second.log.lines.join("\n"));
    assert.match(line[0]!, /waitedMs=\d+/);
    assert.equal((await recordOf(second.kv))?.instance, second.cluster.instance);
    assert.ok(actors.every((a) => second.cluster.isMine(a)));
  });
});

Deno.test("a running process whose record another process took (it started while this one was cut off) fences itself", async () => {
  await withKvFile(async (make, clock) => {
    const first = await make();
    await first.cluster.refresh();
    assert.ok(actors.every((a) => first.cluster.isMine(a)));
    // Cut off from KV: no heartbeat; the second finds the record unchanged and starts.
    const second = await make();
    const start = second.cluster.refresh();
    for (let i = 0; i < 40 && !(await settledSoon(start)); i++) clock.advance(250);
    await start;
    // Back: its next heartbeat finds the record written under the other token.
    assert.equal(await first.cluster.refresh(), true, "a change: the supervisor hands over");
    assert.equal(first.cluster.fenced, true);
    assert.ok(actors.every((a) => !first.cluster.isMine(a)), "it takes no actor any more");
    const errors = linesOf(first.log, "cluster.node-id-in-use");
    assert.equal(errors.length, 1, first.log.lines.join("\n"));
    assert.match(errors[0]!, /ERROR/);
    assert.match(errors[0]!, /own node\.id/);
    // It writes nothing over the other's record, neither heartbeats nor a stop mark.
    const before = await new NodeRegistry(first.kv).entry(NODE);
    await first.cluster.refresh();
    await first.cluster.leave();
    const after = await new NodeRegistry(first.kv).entry(NODE);
    assert.equal(after?.versionstamp, before?.versionstamp);
    assert.equal(after?.record.instance, second.cluster.instance);
    // The other runs on undisturbed.
    assert.equal(await second.cluster.refresh(), false);
    assert.equal(second.cluster.fenced, false);
    assert.ok(actors.every((a) => second.cluster.isMine(a)));
  });
});

Deno.test("a process whose heartbeat stays unconfirmed for as long as a newcomer waits takes no new actor until it is confirmed", async () => {
  await using dir = await tempDir({ prefix: "node-id-guard-" });
  const kv = await Deno.openKv(`${dir.path}/engine.kv`);
  const clock = new ManualClock(Date.now());
  /** Writes that wait for `release` while `hold` is set (KV unreachable). */
  class HeldRegistry extends NodeRegistry {
    hold = false;
    release: () => void = () => {};
    override async write(record: NodeRecord, versionstamp: string | null) {
      if (this.hold) await new Promise<void>((r) => this.release = r);
      return await super.write(record, versionstamp);
    }
  }
  const registry = new HeldRegistry(kv);
  const cluster = new Cluster({
    registry,
    node: NODE,
    leaseMs: LEASE,
    now: () => clock.now(),
    monotonic: () => clock.monotonic(),
    clock,
    load: () => ({ actors: 0, load: 0 }),
  });
  let beat: Promise<boolean> | undefined;
  try {
    await cluster.refresh();
    const wait = claimWaitMs((await recordOf(kv))!, 1000);
    registry.hold = true;
    beat = cluster.refresh();
    clock.advance(wait - 1);
    assert.ok(actors.every((a) => cluster.isMine(a)), "still within a newcomer's wait");
    clock.advance(1);
    assert.ok(actors.every((a) => !cluster.isMine(a)), "a newcomer may have judged it gone");
    registry.hold = false;
    registry.release();
    await beat;
    assert.ok(actors.every((a) => cluster.isMine(a)), "confirmed again");
  } finally {
    registry.hold = false;
    registry.release();
    await beat?.catch(() => {});
    kv.close();
  }
});
