/**
 * The engine's one Hono app, served over HTTP(S) by `compose`: `/healthz`, `/metrics` (behind
 * `http.metricsToken` when set), the sandbox's and data shaping's admin routes, `GET /admin/nodes`,
 * the console, the admin API (with the HTTPS destinations' list and verification), then the JSON
 * API (`api_app.ts`). Every answer carries `X-Content-Type-Options: nosniff`.
 * @module
 */

import { Hono, type MiddlewareHandler } from "hono";
import type { Config } from "../actors/config/mod.ts";
import type { Engine } from "../actors/engine/engine.ts";
import { EngineMetrics } from "../actors/engine/metrics.ts";
import { healthReport } from "../actors/runtime/health.ts";
import type { Logger } from "../actors/runtime/log.ts";
import { createAdminApp } from "../transports/http/mod.ts";
import type { OperationsAppOptions } from "../transports/http/operations.ts";
import { adminToken } from "./admin_token.ts";
import { apiApp } from "./api_app.ts";
import { mountNodes } from "./cluster_admin.ts";
import type { Servers } from "./composed.ts";
import { mountConsole } from "./console.ts";
import { metricsText } from "./metrics.ts";
import { metricsAccess } from "./metrics_access.ts";
import type { Sandbox } from "./sandbox.ts";
import type { ShapingRuntime } from "./shaping.ts";

/**
 * Health, metrics, admin, the token endpoint and the JSON API on one Hono app. The console's
 * close (ending its event streams) is pushed onto `closers`.
 */
export async function httpApp(
  config: Config,
  engine: Engine,
  servers: Servers,
  log: Logger,
  sandbox?: Sandbox,
  shaping?: ShapingRuntime,
  operations: OperationsAppOptions = {},
  closers: (() => void)[] = [],
  observability?: { metrics: EngineMetrics; middleware: MiddlewareHandler },
  now: () => number = Date.now,
): Promise<Hono> {
  const app = new Hono();
  if (observability) app.use(observability.middleware);
  // Every answer is taken for what its Content-Type says (JSON built by c.json included).
  app.use(async (c, next) => {
    await next();
    if (!c.res.headers.has("X-Content-Type-Options")) c.header("X-Content-Type-Options", "nosniff");
  });
  app.get("/healthz", async (c) => {
    const report = await healthReport({
      node: config.node.id,
      store: engine.store,
      supervisor: engine.supervisor,
      listeners: servers.mllp,
    });
    // Degraded (not failing) for a while after a wall-clock step: reported, 200 still.
    const body = { ...report, checks: [...report.checks, engine.clockWatch.health()] };
    return c.json(body, report.status === "ok" ? 200 : 503, { "cache-control": "no-store" });
  });
  // Open unless http.metricsToken is set (metrics_access.ts).
  app.get("/metrics", metricsAccess(config, log), async (c) => {
    const text = await metricsText(
      observability?.metrics ?? new EngineMetrics(() => config),
      engine,
      servers.mllp,
    );
    return c.text(text, 200, { "content-type": "text/plain; version=0.0.4" });
  });
  const token = await adminToken(config, log);
  // Before the admin app: its catch-all would answer /admin/sandbox with 404.
  if (sandbox) sandbox.mount(app, token);
  mountNodes(app, engine, token, log);
  shaping?.mount(app, token);
  const console = mountConsole(app, config, engine, token, log, now, operations.alerts);
  closers.push(console.close);
  const https = engine.https;
  app.route(
    "/",
    createAdminApp({
      supervisor: engine.supervisor,
      store: engine.store,
      token,
      log,
      users: console.users,
      operations,
      ...(https
        ? {
          destinations: {
            list: () => (engine.https ?? https).list(),
            verify: (id: string) =>
              (engine.https ?? https).verify(id)?.then(async (result) => {
                // A production queue waiting on its verification goes now, not at its next retry.
                if (result.verified) {
                  await engine.supervisor.command(`https:${id}`, "retry", "admin", "verified");
                }
                return result;
              }),
          },
        }
        : {}),
    }),
  );
  app.route("/", await apiApp(config, engine, log));
  return app;
}
