/**
 * The engine's metrics: labels made once per config and again after a reload; routes counted
 * however the store was asked to make them.
 */

import assert from "node:assert/strict";
import { EngineMetrics } from "../../../actors/engine/metrics.ts";
import type { Config } from "../../../actors/config/mod.ts";
import { Store } from "../../../actors/store/mod.ts";
import type { Delivery, QueueHead } from "../../../actors/store/mod.ts";
import { tempDir } from "../../helpers/temp.ts";

/** The parts of a config the metrics read (a reload gives a new object). */
function config(environment: string): Config {
  const destinations = [{ id: "out", environment }];
  const integrations = [{ id: "feed", environment }];
  return { destinations, sources: [], integrations } as unknown as Config;
}

Deno.test("engine metrics: a destination's labels are one object per config, and follow a reload", () => {
  let current = config("dev");
  const metrics = new EngineMetrics(() => current);
  const first = metrics.destination("out");
  assert.equal(metrics.destination("out"), first);
  assert.deepEqual(first, { destination: "out", environment: "dev" });
  assert.ok(Object.isFrozen(first));
  assert.deepEqual(metrics.destination("gone"), { destination: "gone", environment: "unknown" });
  current = config("staging");
  assert.deepEqual(metrics.destination("out"), { destination: "out", environment: "staging" });
  metrics.delivered.inc(first);
  metrics.delivered.inc(metrics.destination("out"));
  assert.equal(metrics.delivered.get({ destination: "out", environment: "dev" }), 1);
  assert.equal(metrics.delivered.get({ destination: "out", environment: "staging" }), 1);
});

Deno.test("engine metrics: a message routed by the application step is counted, through routeEntries as through route", async () => {
  await using dir = await tempDir({ prefix: "metrics-labels-" });
  const store = await Store.open({ path: `${dir.path}/engine.kv`, node: "t" });
  const metrics = new EngineMetrics(() => config("dev"));
  metrics.instrument(store, () => Date.now());
  const queue = "mllp-in:9960:127.0.0.1";
  try {
    const headOf = async (text: string) => {
      const r = await store.accept({
        queue,
        origin: { kind: "integration", id: "feed", peer: "127.0.0.1" },
        payload: new TextEncoder().encode(text),
        contentType: "application/hl7-v2",
        log: { type: "RECEIVE", integrationId: "feed", environment: "dev" },
      });
      assert.equal(r.status, "stored");
      const [head] = await store.peek(queue);
      assert.ok(head);
      return head;
    };
    const to = (head: QueueHead): Delivery[] => [{
      queue: "mllp-out:127.0.0.1:1",
      destinationId: "out",
      messageId: head.entry.messageId,
      originalId: head.entry.messageId,
      log: { integrationId: "feed", environment: "dev" },
    }];
    const out = { destination: "out", environment: "dev" };
    // The inbound actor routes with routeEntries (to hand the entries over in memory).
    const first = await headOf("MSH|one");
    assert.equal((await store.routeEntries(first, to(first), { status: "SUCCEEDED" }))?.length, 1);
    assert.equal(metrics.routed.get(out), 1);
    const second = await headOf("MSH|two");
    assert.ok(await store.route(second, to(second), { status: "SUCCEEDED" }));
    assert.equal(metrics.routed.get(out), 2, "route, built on routeEntries, counts once");
    const third = await headOf("MSH|three");
    const log = await store.getLog(third.entry.logId);
    assert.ok(log);
    const filtered = await store.routeEntries(third, [], { status: "FILTERED" }, { log });
    assert.deepEqual(filtered, []);
    assert.equal(metrics.filtered.get({ integration: "feed", environment: "dev" }), 1);
    // A head already taken routes nothing and counts nothing.
    assert.equal(await store.routeEntries(first, to(first), { status: "SUCCEEDED" }), undefined);
    assert.equal(metrics.routed.get(out), 2);
  } finally {
    store.close();
  }
});

Deno.test("engine metrics: a message stored after another under the same dedupe key at once is counted once", async () => {
  await using dir = await tempDir({ prefix: "metrics-labels-" });
  const store = await Store.open({ path: `${dir.path}/engine.kv`, node: "t" });
  const metrics = new EngineMetrics(() => config("dev"));
  metrics.instrument(store, () => Date.now());
  try {
    const accept = (text: string) =>
      store.accept({
        queue: "mllp-in:9961:127.0.0.1",
        origin: { kind: "integration", id: "feed", peer: "127.0.0.1" },
        payload: new TextEncoder().encode(text),
        contentType: "application/hl7-v2",
        dedupe: {
          scope: "feed",
          key: "K",
          ack: "",
          windowMs: 60_000,
          sameMessage: (earlier) => new TextDecoder().decode(earlier) === text,
        },
        log: { type: "RECEIVE", integrationId: "feed", environment: "dev" },
      });
    // The second waits for the first (stored now under the key), then is stored after it.
    const [a, b] = await Promise.all([accept("MSH|one"), accept("MSH|two")]);
    assert.deepEqual([a.status, b.status], ["stored", "stored"]);
    assert.equal(metrics.received.get({ integration: "feed", environment: "dev" }), 2);
  } finally {
    store.close();
  }
});
