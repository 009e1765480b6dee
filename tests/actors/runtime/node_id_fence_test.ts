/**
 * A running supervisor whose node id another process takes over (its heartbeat record written
 * under another instance token, as a process started with the same node id during a partition
 * writes it) fences itself: its actors stop, their leases are released, it activates nothing
 * more, and `/healthz` fails with a `node-id` check. Real KV file, two handles.
 */

import assert from "node:assert/strict";
import { Cluster } from "../../../actors/runtime/cluster.ts";
import { healthReport } from "../../../actors/runtime/health.ts";
import { memoryLogger } from "../../../actors/runtime/log.ts";
import { Supervisor } from "../../../actors/runtime/supervisor.ts";
import { keys } from "../../../actors/store/keys.ts";
import { Store } from "../../../actors/store/mod.ts";
import { NodeRegistry } from "../../../actors/store/nodes.ts";
import { waitFor } from "../../helpers/net.ts";
import { tempDir } from "../../helpers/temp.ts";
import { idleActor } from "./fixtures.ts";

const NODE = "node-1";

/** A registry counting its reads of every record (one per membership look). */
class CountingRegistry extends NodeRegistry {
  reads = 0;
  override async entries() {
    this.reads++;
    return await super.entries();
  }
}

Deno.test("a running node whose record another process took stops its actors, releases their leases and fails /healthz", async () => {
  await using dir = await tempDir({ prefix: "node-id-fence-" });
  const path = `${dir.path}/engine.kv`;
  const store = new Store(await Deno.openKv(path), { node: NODE });
  const other = await Deno.openKv(path);
  const ids = ["test:a", "test:b", "test:c"];
  const log = memoryLogger();
  const leases = store.leases({ ttlMs: 3000 });
  const registry = new CountingRegistry(store.kv);
  const cluster = new Cluster({
    registry,
    node: NODE,
    leaseMs: 3000,
    now: Date.now,
    load: () => ({ actors: 0, load: 0 }),
  });
  const supervisor = new Supervisor({
    store,
    leases,
    cluster,
    log,
    pollMs: 50,
    alwaysOn: () => ids,
    factory: (id) => idleActor(id),
  });
  try {
    await supervisor.start();
    assert.deepEqual(supervisor.activeIds.sort(), ids);
    const report = () => healthReport({ node: NODE, store, supervisor, listeners: [] });
    assert.equal((await report()).status, "ok");
    // Another process with this node id starts (this one was cut off meanwhile) and beats.
    const own = (await new NodeRegistry(other).entry(NODE))!.record;
    await new NodeRegistry(other).heartbeat({
      ...own,
      instance: "another-process",
      startedAt: Date.now(),
      lastSeen: Date.now(),
    });
    await waitFor("its actors stopped", () => supervisor.activeIds.length === 0);
    await waitFor("their leases released", async () => {
      const held = await Promise.all(ids.map((id) => other.get(keys.lease(id))));
      return held.every((e) => e.versionstamp === null);
    });
    assert.equal(cluster.fenced, true);
    const errors = log.lines.filter((l) => l.includes("cluster.node-id-in-use"));
    assert.equal(errors.length, 1, log.lines.join("\n"));
    assert.match(errors[0]!, /ERROR/);
    const health = await report();
    assert.equal(health.status, "failing");
    const check = health.checks.find((c) => c.name === "node-id");
    assert.equal(check?.ok, false);
    assert.match(check?.reason ?? "", /node\.id "node-1" is in use by another process/);
    // Three more membership looks (and queue polls): nothing is activated again, and the other
    // process's record is left as it wrote it.
    const reads = registry.reads;
    await waitFor("three more looks", () => registry.reads >= reads + 3);
    assert.deepEqual(supervisor.activeIds, []);
    assert.equal(await supervisor.activate("test:a"), false);
    assert.equal((await new NodeRegistry(other).entry(NODE))?.record.instance, "another-process");
  } finally {
    await supervisor.stop();
    // A fenced stop leaves the other's record unmarked.
    assert.equal((await new NodeRegistry(other).entry(NODE))?.record.stopped, undefined);
    store.close();
    other.close();
  }
});
