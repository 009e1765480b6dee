/**
 * Process-level metrics and the HTTP request counter, next to the engine's own (engine/metrics.ts):
 * memory, event-loop lag, build info, HTTP requests by route and status, and the `/metrics` text
 * with queue depths, oldest message ages, each actor's state and destinations, queues no live
 * node serves, KV commits and MLLP connections.
 * @module
 */

import type { Context, Next } from "hono";
import type { EngineMetrics } from "../actors/engine/metrics.ts";
import type { Engine } from "../actors/engine/engine.ts";
import type { MllpServer } from "../transports/mllp/server.ts";
import { ENGINE_VERSION, engineBuild } from "../actors/runtime/version.ts";
import type { UnservedQueue } from "../actors/runtime/supervisor_unserved.ts";
import type { ActorStatus } from "../actors/runtime/actor.ts";
import type { Config } from "../actors/config/mod.ts";
import { destinationActorId } from "../actors/engine/identities.ts";

/** The engine's release (shown by `engine_build_info`; defined in actors/runtime/version.ts). */
export { ENGINE_VERSION };

/** How often the event-loop lag is sampled. */
const LAG_SAMPLE_MS = 500;

/**
 * Adds the process gauges and the HTTP counter to `metrics`; returns the middleware counting
 * requests and a function stopping the lag sampler.
 */
export function processMetrics(metrics: EngineMetrics): {
  middleware: (c: Context, next: Next) => Promise<void>;
  stop(): void;
} {
  const r = metrics.registry;
  let lag = 0;
  let expected = performance.now() + LAG_SAMPLE_MS;
  const timer = setInterval(() => {
    const t = performance.now();
    lag = Math.max(0, t - expected) / 1000;
    expected = t + LAG_SAMPLE_MS;
  }, LAG_SAMPLE_MS);
  // The sampler must not keep a process alive that has nothing else to do.
  Deno.unrefTimer(timer);
  r.gauge("engine_process_resident_memory_bytes", "Resident set size.", () => [{
    value: Deno.memoryUsage().rss,
  }]);
  r.gauge("engine_process_heap_used_bytes", "V8 heap in use.", () => [{
    value: Deno.memoryUsage().heapUsed,
  }]);
  r.gauge(
    "engine_event_loop_lag_seconds",
    `How late the last ${LAG_SAMPLE_MS} ms timer fired.`,
    () => [{ value: lag }],
  );
  r.gauge("engine_build_info", "The engine's version, build and runtime; always 1.", () => [{
    labels: {
      version: ENGINE_VERSION,
      build: engineBuild(),
      deno: Deno.version.deno,
      v8: Deno.version.v8,
    },
    value: 1,
  }]);
  const requests = r.counter("engine_http_requests_total", "HTTP requests by route and status.");
  const middleware = async (c: Context, next: Next) => {
    await next();
    // The route pattern (never the raw path: ids would make unbounded series).
    const route = c.req.matchedRoutes.filter((m) => m.method !== "ALL").at(-1)?.path ??
      "unmatched";
    requests.inc({ method: c.req.method, route, status: String(c.res.status) });
  };
  return { middleware, stop: () => clearInterval(timer) };
}

/**
 * The `/metrics` text: every registered family, then queue, actor state and connection gauges.
 * `engine.config` (the running config) maps actors to the destinations they deliver to; without
 * it, `engine_actor_destination_info` has no series.
 */
export async function metricsText(
  metrics: EngineMetrics,
  engine: Pick<Engine, "supervisor" | "store"> & { readonly config?: Config },
  mllp: readonly MllpServer[],
): Promise<string> {
  const actors = await engine.supervisor.statuses();
  const stats = engine.store.commitStats;
  // Past the grace only (what `cluster.actor-unserved` warns of): a node restarting or an actor
  // moving between nodes is not reported as stuck.
  const unserved = engine.supervisor.unserved().filter((u) => u.pastGrace);
  return metrics.registry.render([
    "# HELP engine_queue_depth Messages waiting in an actor's queue.",
    "# TYPE engine_queue_depth gauge",
    ...actors.map((a) =>
      `engine_queue_depth{actor="${labelValue(a.id)}",kind="${labelValue(a.kind)}"} ${a.queueDepth}`
    ),
    "# HELP engine_queue_oldest_age_seconds Age of the oldest message waiting in a queue.",
    "# TYPE engine_queue_oldest_age_seconds gauge",
    ...actors.map((a) =>
      `engine_queue_oldest_age_seconds{actor="${labelValue(a.id)}",kind="${labelValue(a.kind)}"} ${
        (a.oldestAgeMs ?? 0) / 1000
      }`
    ),
    ...actorLines(actors, engine.config),
    ...unservedLines(unserved),
    "# HELP engine_kv_commits_total Group commits to KV.",
    "# TYPE engine_kv_commits_total counter",
    `engine_kv_commits_total ${stats.batches}`,
    "# HELP engine_kv_writes_total Writes carried by those commits.",
    "# TYPE engine_kv_writes_total counter",
    `engine_kv_writes_total ${stats.writes}`,
    "# HELP engine_kv_mutations_total Rows set, deleted or summed by those commits.",
    "# TYPE engine_kv_mutations_total counter",
    `engine_kv_mutations_total ${stats.mutations}`,
    "# HELP engine_kv_commit_batch_size_average Writes per group commit, on average.",
    "# TYPE engine_kv_commit_batch_size_average gauge",
    `engine_kv_commit_batch_size_average ${stats.batches ? stats.writes / stats.batches : 0}`,
    "# HELP engine_mllp_connections Open inbound MLLP connections per port.",
    "# TYPE engine_mllp_connections gauge",
    ...mllp.map((s) => `engine_mllp_connections{port="${s.port}"} ${s.connections}`),
  ]);
}

/**
 * `engine_actor_state` (one series per actor, its current state, value 1: a paused queue and a
 * stuck one told apart) and `engine_actor_destination_info` (one series per actor and destination
 * it delivers to: several MLLP destinations at one `host:port` share an actor), for joins such as
 * `engine_queue_depth * on(actor) group_right engine_actor_destination_info`.
 */
function actorLines(actors: readonly ActorStatus[], config: Config | undefined): string[] {
  const listed = new Set(actors.map((a) => a.id));
  const served = (config?.destinations ?? []).flatMap((d) => {
    const actor = destinationActorId(d);
    return listed.has(actor) ? [{ actor, destination: d.id }] : [];
  });
  return [
    "# HELP engine_actor_state An actor's current state (idle, connecting, sending, awaiting-ack, " +
    "backoff, paused, processing, stopped): one series per actor, value 1.",
    "# TYPE engine_actor_state gauge",
    ...actors.map((a) =>
      `engine_actor_state{actor="${labelValue(a.id)}",kind="${labelValue(a.kind)}",state="${
        labelValue(a.state)
      }"} 1`
    ),
    "# HELP engine_actor_destination_info The destinations each actor delivers to (value 1).",
    "# TYPE engine_actor_destination_info gauge",
    ...served.map((s) =>
      `engine_actor_destination_info{actor="${labelValue(s.actor)}",destination="${
        labelValue(s.destination)
      }"} 1`
    ),
  ];
}

/**
 * `engine_unserved_queues` (how many) and `engine_unserved_queue_depth` (messages waiting in each)
 * for `unserved`: queues with entries whose actor no running node's config can build, so they
 * are in no `engine_queue_depth` series. Every node reports the same queues (each looks at the
 * whole KV): aggregate with `max`, not `sum`.
 */
function unservedLines(unserved: readonly UnservedQueue[]): string[] {
  return [
    "# HELP engine_unserved_queues Queues with messages that no running node's config can build " +
    "an actor for, unserved past the grace (see cluster.actor-unserved).",
    "# TYPE engine_unserved_queues gauge",
    `engine_unserved_queues ${unserved.length}`,
    "# HELP engine_unserved_queue_depth Messages waiting in a queue no running node serves.",
    "# TYPE engine_unserved_queue_depth gauge",
    ...unserved.map((u) =>
      `engine_unserved_queue_depth{actor="${labelValue(u.actor)}"} ${u.queued}`
    ),
  ];
}

/** `value` escaped as a label value of the text format (backslash, quote, line feed). */
function labelValue(value: string): string {
  return value.replace(/[\\"\n]/g, (c) => c === "\n" ? "\\n" : `\\${c}`);
}
