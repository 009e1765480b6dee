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

Deno.test("metrics: histogram buckets are cumulative; a value past the last bound counts in +Inf only", () => {
  const registry = new MetricsRegistry();
  const h = registry.histogram("engine_test_seconds", "Test.", [0.1, 1, 10]);
  for (const v of [0.05, 0.1, 0.5, 5, 50, Number.NaN]) h.observe({}, v);
  const text = registry.render();
  assert.match(text, /^engine_test_seconds_bucket\{le="0\.1"\} 2$/m);
  assert.match(text, /^engine_test_seconds_bucket\{le="1"\} 3$/m);
  assert.match(text, /^engine_test_seconds_bucket\{le="10"\} 4$/m);
  assert.match(text, /^engine_test_seconds_bucket\{le="\+Inf"\} 6$/m);
  assert.match(text, /^engine_test_seconds_count 6$/m);
});

Deno.test("metrics: a label object changed between two counts goes to its new series (only frozen ones are remembered)", () => {
  const registry = new MetricsRegistry();
  const sent = registry.counter("engine_test_total", "Test.");
  const labels: Record<string, string> = { destination: "a" };
  sent.inc(labels);
  labels.destination = "b";
  sent.inc(labels);
  const frozen = Object.freeze({ destination: "c" });
  sent.inc(frozen);
  sent.inc(frozen);
  assert.equal(sent.get({ destination: "a" }), 1);
  assert.equal(sent.get({ destination: "b" }), 1);
  assert.equal(sent.get({ destination: "c" }), 2);
});
