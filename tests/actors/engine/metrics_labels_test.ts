/** The engine's metric labels: made once per config, and made again after a reload. */

import assert from "node:assert/strict";
import { EngineMetrics } from "../../../actors/engine/metrics.ts";
import type { Config } from "../../../actors/config/mod.ts";

/** The parts of a config the metrics read (a reload gives a new object). */
function config(environment: string): Config {
  const destinations = [{ id: "out", environment }];
  return { destinations, sources: [], integrations: [] } as unknown as Config;
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
