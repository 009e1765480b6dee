/**
 * The actors page in a cluster: the nodes sharing the KV (from their heartbeats) are listed, this
 * one marked, and each actor's Node column names its owner by rendezvous hashing over the live
 * nodes — not the node serving the page. A second node is a real heartbeat record written by
 * another KV handle on the same file, weighted so that it owns the actors.
 * @module
 */

import assert from "node:assert/strict";
import { rendezvous } from "../../../../actors/runtime/cluster.ts";
import { NodeRegistry } from "../../../../actors/store/nodes.ts";
import { startEngine } from "../../../helpers/engine.ts";
import { waitFor } from "../../../helpers/net.ts";
import { consoleConfig, signIn, TOKEN } from "./fixture.ts";
import { tempDir } from "../../../helpers/temp.ts";

Deno.test("console: the actors page lists the nodes and each actor's owning node", async () => {
  await using dir = await tempDir({ prefix: "console-nodes-" });
  const config = await consoleConfig(`${dir.path}/engine.kv`);
  // A short lease: membership is re-read every third of it.
  const e = await startEngine({ ...config, cluster: { ...config.cluster, leaseSeconds: 3 } }, {
    http: true,
  });
  const other = await Deno.openKv(`${dir.path}/engine.kv`);
  try {
    const now = Date.now();
    await new NodeRegistry(other).heartbeat({
      id: "peer",
      address: "http://10.0.0.2:8080",
      version: "engine/1",
      startedAt: now,
      lastSeen: now,
      actors: 7,
      load: 0,
      weight: 1000,
      leaseMs: 600_000,
    });
    const admin = await signIn(e.base, { token: TOKEN });
    const page = async () => {
      const r = await fetch(`${e.base}/console/actors`, { headers: { cookie: admin.cookie } });
      assert.equal(r.status, 200);
      return await r.text();
    };
    let html = "";
    await waitFor("the peer's actors on the page", async () => {
      html = await page();
      return /data-node="peer"/.test(html);
    }, 15_000);

    // The node list: both nodes, live, this one marked.
    const nodeRow = (id: string) =>
      new RegExp(`<tr data-node-id="${id}" data-node-live="true">(.*?)</tr>`, "s").exec(html)?.[1];
    assert.match(nodeRow("test") ?? "", /test \(this node\)/);
    assert.match(nodeRow("peer") ?? "", /http:\/\/10\.0\.0\.2:8080/);
    assert.match(nodeRow("peer") ?? "", />7</);

    // Each actor's owner is the rendezvous winner over the live nodes.
    const rows = [...html.matchAll(/data-actor-id="([^"]+)"[^>]*data-node="([^"]+)"/g)];
    assert.ok(rows.length > 0, "actors are listed");
    const live = [{ id: "peer", weight: 1000 }, { id: "test", weight: 1 }];
    for (const [, id, node] of rows) {
      const actor = id!.replaceAll("&amp;", "&");
      assert.equal(node, rendezvous(actor, live), `owner of ${actor}`);
    }
  } finally {
    other.close();
    await e.close();
  }
});
