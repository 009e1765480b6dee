/**
 * One running engine per node id on a KV file: the second `serve` with the same `node.id` on the
 * same file is refused at once, with what to do; another node id on the same file starts, and the
 * lock goes with its holder. In-process locks on a real file, and two real `main.ts serve`.
 */

import assert from "node:assert/strict";
import { lockNode, nodeLockPath } from "../../app/node_lock.ts";
import { spawnEngine } from "../helpers/engine_process.ts";
import { freePort, waitFor } from "../helpers/net.ts";
import { tempDir } from "../helpers/temp.ts";

Deno.test("node lock: a second holder of one node id on one KV file is refused, another node id is not, and a release lets the next one in", async () => {
  await using dir = await tempDir({ prefix: "node-lock-" });
  const kvPath = `${dir.path}/engine.kv`;
  const first = await lockNode({ kvPath, nodeId: "node-1" });
  assert.ok(first);
  assert.equal(first.path, nodeLockPath(kvPath, "node-1"));
  await assert.rejects(
    () => lockNode({ kvPath, nodeId: "node-1", waitMs: 200 }),
    /node\.id "node-1" is in use by another running engine on .*engine\.kv .*own node\.id/,
  );
  const other = await lockNode({ kvPath, nodeId: "node-2", waitMs: 200 });
  assert.ok(other, "another node id on the same file");
  first.release();
  const next = await lockNode({ kvPath, nodeId: "node-1", waitMs: 1000 });
  assert.ok(next, "free once released");
  next.release();
  other.release();
  // A KV folder not made yet is made, as opening the KV makes it.
  const fresh = await lockNode({ kvPath: `${dir.path}/data/engine.kv`, nodeId: "node-1" });
  assert.ok(fresh);
  fresh.release();
  assert.equal(await lockNode({ kvPath: ":memory:", nodeId: "x" }), undefined);
  assert.equal(await lockNode({ kvPath: "https://kv.example/x", nodeId: "x" }), undefined);
});

Deno.test("node lock: a second main.ts serve with the same node id on the same KV file (other ports) exits 1 naming the node id, while the first runs on", async () => {
  await using dir = await tempDir({ prefix: "node-lock-serve-" });
  const config = (mllp: number, http: number) => ({
    node: { id: "twin" },
    kv: { path: `${dir.path}/engine.kv` },
    http: { port: http, hostname: "127.0.0.1", development: true },
    listeners: [{ port: mllp, hostname: "127.0.0.1" }],
    environments: [{ id: "dev", type: "development" }],
    integrations: [{
      id: "feed",
      environment: "dev",
      mllp: { port: mllp, allowedIps: ["127.0.0.1"] },
    }],
  });
  await Deno.writeTextFile(`${dir.path}/a.json`, JSON.stringify(config(freePort(), freePort())));
  await Deno.writeTextFile(`${dir.path}/b.json`, JSON.stringify(config(freePort(), freePort())));
  const a = spawnEngine({ flags: ["-A"], args: ["serve", "--config", `${dir.path}/a.json`] });
  try {
    await waitFor("the first engine up", () => {
      assert.ok(!a.exited(), a.output());
      return a.output().includes("http.listening");
    }, 30_000);
    const b = spawnEngine({ flags: ["-A"], args: ["serve", "--config", `${dir.path}/b.json`] });
    await waitFor(
      "the second engine to exit or start",
      () => b.exited() || b.output().includes("http.listening"),
      30_000,
    );
    if (!b.exited()) b.child.kill("SIGKILL");
    const status = await b.status;
    await b.drained;
    assert.equal(status.code, 1, b.output());
    assert.match(b.output(), /node\.id "twin" is in use by another running engine/);
    assert.ok(!a.exited(), "the first engine runs on");
  } finally {
    a.child.kill("SIGTERM");
    await a.status;
    await a.drained;
  }
});

Deno.test("node lock: after a killed main.ts serve, the next on the same local KV file starts without watching the node's record (waitedMs=0: the lock says no other process runs)", async () => {
  await using dir = await tempDir({ prefix: "node-lock-kill-" });
  const config = {
    node: { id: "solo" },
    kv: { path: `${dir.path}/engine.kv` },
    http: { port: freePort(), hostname: "127.0.0.1", development: true },
    environments: [{ id: "dev", type: "development" }],
  };
  await Deno.writeTextFile(`${dir.path}/c.json`, JSON.stringify(config));
  const run = async (stop: "SIGKILL" | "SIGTERM") => {
    const e = spawnEngine({ flags: ["-A"], args: ["serve", "--config", `${dir.path}/c.json`] });
    try {
      await waitFor("the engine up", () => {
        assert.ok(!e.exited(), e.output());
        return e.output().includes("engine.started");
      }, 30_000);
    } finally {
      e.child.kill(stop);
      await e.status;
      await e.drained;
    }
    return e.output();
  };
  await run("SIGKILL");
  // Killed: its heartbeat record is not marked stopped. Over a shared KV the next start would
  // watch it for a heartbeat interval and log the takeover; on a local file the lock answers.
  const second = await run("SIGTERM");
  assert.match(
    second,
    /cluster\.node-id-taken-over node=solo waitedMs=0 .*holds the node id's lock/,
  );
  assert.doesNotMatch(second, /node-id-in-use/, second);
});
