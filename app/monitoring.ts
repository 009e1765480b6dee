/**
 * What watches a composed engine while it runs: the alert monitor (config `alerts`) and the
 * metrics — the store's calls counted from here on (engine/metrics.ts), the process gauges and
 * HTTP counter (metrics.ts), and the wall-clock steps the engine notices. Each is stopped through
 * the composition's stack, before the store closes.
 * @module
 */

import type { MiddlewareHandler } from "hono";
import { AlertMonitor } from "../actors/alerts/monitor.ts";
import { engineInputs } from "../actors/alerts/inputs.ts";
import type { Engine } from "../actors/engine/engine.ts";
import { EngineMetrics } from "../actors/engine/metrics.ts";
import type { HttpSender } from "../actors/ports.ts";
import { systemClock } from "../actors/runtime/clock.ts";
import { NodemailerSender } from "../transports/smtp/mod.ts";
import type { Adapters } from "./composed.ts";
import { processMetrics } from "./metrics.ts";

/** The monitoring of a running engine. */
export interface Monitoring {
  /** The alert monitor, started. */
  alerts: AlertMonitor;
  /** The engine's metrics registry, instrumenting its store. */
  metrics: EngineMetrics;
  /** Counts HTTP requests (for the HTTP app). */
  middleware: MiddlewareHandler;
}

/**
 * Starts the alert monitor (alerts sent through `httpSender` and `adapters.mailSender`, SMTP by
 * default) and the metrics of `engine`; their stops are deferred on `stack`, alerts first.
 */
export function startMonitoring(
  engine: Engine,
  httpSender: HttpSender,
  adapters: Pick<Adapters, "log" | "clock" | "mailSender">,
  stack: AsyncDisposableStack,
): Monitoring {
  const { log } = adapters;
  const alerts = new AlertMonitor({
    store: engine.store,
    inputs: engineInputs({
      store: engine.store,
      actors: () => engine.supervisor.statuses(),
      config: () => engine.config,
    }),
    config: () => engine.config.alerts,
    deps: { http: httpSender, mail: adapters.mailSender ?? new NodemailerSender() },
    clock: adapters.clock ?? systemClock,
    log,
  });
  alerts.start();
  stack.defer(() => alerts.stop());
  // Counted where the store is called, from here on (engine/metrics.ts).
  const metrics = new EngineMetrics(() => engine.config);
  metrics.instrument(engine.store, () => (adapters.clock ?? systemClock).now());
  const observed = processMetrics(metrics);
  stack.defer(() => observed.stop());
  const clockSteps = metrics.registry.counter(
    "engine_clock_steps_total",
    "Wall-clock steps noticed (over 1 s beyond the monotonic clock), by direction.",
  );
  engine.clockWatch.onStep((s) => clockSteps.inc({ direction: s.direction }));
  return { alerts, metrics, middleware: observed.middleware };
}
