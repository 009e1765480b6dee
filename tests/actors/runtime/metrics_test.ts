/** The Prometheus text the metrics registry writes: series keys and label escaping. */

import assert from "node:assert/strict";
import { MetricsRegistry } from "../../../actors/runtime/metrics.ts";

Deno.test("metrics: one series per label set whatever the key order, keys sorted in the text", () => {
  const registry = new MetricsRegistry();
  const sent = registry.counter("engine_test_total", "Test.");
  sent.inc({ environment: "dev", destination: "out" });
  sent.inc({ destination: "out", environment: "dev" }, 2);
  sent.inc();
  assert.equal(sent.get({ environment: "dev", destination: "out" }), 3);
  assert.equal(sent.get(), 1);
  const text = registry.render();
  assert.match(text, /^engine_test_total\{destination="out",environment="dev"\} 3$/m);
  assert.match(text, /^engine_test_total 1$/m);
});

Deno.test("metrics: a label value's backslash, newline and quote are escaped, others kept as they are", () => {
  const registry = new MetricsRegistry();
  const h = registry.histogram("engine_test_seconds", "Test.", [1]);
  h.observe({ destination: 'a\\b\n"c"' }, 0.5);
  h.observe({ destination: "plain-é" }, 2);
  // Each on its own, too.
  h.observe({ destination: 'say "hi"' }, 0.5);
  h.observe({ destination: "C:\\in" }, 0.5);
  const text = registry.render();
  assert.match(text, /^engine_test_seconds_count\{destination="say \\"hi\\""\} 1$/m);
  assert.match(text, /^engine_test_seconds_count\{destination="C:\\\\in"\} 1$/m);
  assert.match(text, /^engine_test_seconds_count\{destination="a\\\\b\\n\\"c\\""\} 1$/m);
  assert.match(text, /^engine_test_seconds_bucket\{destination="plain-é",le="\+Inf"\} 1$/m);
  assert.match(text, /^engine_test_seconds_bucket\{destination="plain-é",le="1"\} 0$/m);
});
