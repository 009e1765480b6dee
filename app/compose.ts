/**
 * The one composition root: `compose(config, adapters)` opens the store, starts the engine and its
 * actors, the hosted SFTP folder, the MLLP listeners and the HTTP server (health, metrics, admin,
 * token endpoint, JSON API), and gives back `{ engine, servers, close() }`. main.ts, tests and
 * benchmarks all wire the engine through it; adapters (connectors, senders, clock, an open store)
 * replace the real ones where a test wants fakes.
 *
 * Every step that fails closes, in reverse order, what the steps before it opened
 * (`AsyncDisposableStack`), then throws a {@link ComposeError} saying which step failed.
 *
 * This module is the order of the steps; the parts are modules of their own: `composed.ts` (what
 * it takes and gives back), `compose_error.ts`, `bound_ports.ts` (MLLP port 0),
 * `monitoring.ts` (alerts and metrics), `hosted_sftp.ts`, `http_app.ts` and `api_app.ts` (the
 * HTTP app), `intake.ts` (the drain a stop begins with).
 * @module
 */

import type { Config } from "../actors/config/mod.ts";
import { Engine } from "../actors/engine/engine.ts";
import { alertsAdmin } from "../actors/alerts/admin.ts";
import { storageReport } from "../actors/store/retention.ts";
import { settlesWithin } from "../actors/runtime/settles_within.ts";
import { localKvFile, watchKvIntegrity } from "../actors/store/integrity_check.ts";
import { servePublic } from "../transports/http/serve.ts";
import { FetchSender } from "../transports/https/mod.ts";
import { ThreadMllpConnector } from "../transports/mllp/thread_connector.ts";
import type { BoundMllpListener } from "../transports/mllp/server.ts";
import { hostedOutboxSessions, sshSftpConnector } from "../transports/sftp/mod.ts";
import { bindListener, ConfigReloader, mllpPorts } from "./reload.ts";
import { startSandbox } from "./sandbox.ts";
import { startShaping } from "./shaping.ts";
import { withBoundPorts } from "./bound_ports.ts";
import { step } from "./compose_error.ts";
import {
  type Adapters,
  type Composed,
  DEFAULT_STOP_GRACE_MS,
  DELIVERY_RESERVE_MS,
  type Servers,
  type StopReport,
} from "./composed.ts";
import { startHostedSftp } from "./hosted_sftp.ts";
import { httpApp } from "./http_app.ts";
import { drainIntake, intakeInFlight } from "./intake.ts";
import { startMonitoring } from "./monitoring.ts";

export { ComposeError } from "./compose_error.ts";
export {
  type Adapters,
  type Composed,
  DEFAULT_STOP_GRACE_MS,
  type IntakeInFlight,
  type Servers,
  type StopReport,
} from "./composed.ts";
export { apiApp } from "./api_app.ts";

/**
 * See the module doc. A listener port of 0 (MLLP, hosted SFTP, HTTP) binds a port the system
 * chooses: `servers` gives the bound ports, and `engine.config` is the config with them in place
 * of the zeros (an MLLP integration's identity is its port).
 */
export async function compose(configured: Config, adapters: Adapters): Promise<Composed> {
  const { log } = adapters;
  await using stack = new AsyncDisposableStack();
  const ownSender = adapters.httpSender ? undefined : new FetchSender();
  if (ownSender) stack.defer(() => ownSender.close());
  const httpSender = adapters.httpSender ?? ownSender!;

  // MLLP listeners bind before the engine starts (they accept once it has): the engine is given
  // the ports they are bound to.
  const bound = new Map<number, BoundMllpListener>();
  for (const port of mllpPorts(configured)) {
    const listener = await step("cannot listen", () => bindListener(port, configured, log));
    stack.defer(() => listener.close());
    bound.set(port, listener);
  }
  const config = withBoundPorts(configured, bound);
  // The config file's hash, as reloads compare it: a file that cannot be read now (moved, or
  // its permissions changed since it was parsed) fails the start, naming it.
  const configFile = adapters.configFile;
  const configHash = configFile
    ? await step("cannot hash the config file", () => ConfigReloader.hashOf(configFile))
    : undefined;

  // Outbound MLLP sockets live on a thread of their own (see thread_connector.ts).
  let mllpConnector = adapters.mllpConnector;
  if (!mllpConnector) {
    const threaded = new ThreadMllpConnector({ log });
    // Deferred first, so it runs last: after the engine and the sandbox closed their sockets.
    stack.defer(() => threaded.close());
    mllpConnector = threaded;
  }
  // Typically the KV file: a folder that cannot be written, a full disk, a KV Connect refusal.
  const engine = await step(`cannot start the engine (kv ${config.kv.path})`, () =>
    Engine.start({
      config,
      log,
      mllpConnector,
      httpSender,
      sftp: {
        connector: adapters.sftpConnector ?? sshSftpConnector,
        outboxSessions: (user) =>
          hostedOutboxSessions(config.sftpServer?.root ?? "./data/sftp", user),
      },
      ...(adapters.clock ? { clock: adapters.clock } : {}),
      ...(adapters.store ? { store: adapters.store } : {}),
      ...(adapters.pollMs !== undefined ? { pollMs: adapters.pollMs } : {}),
      ...(adapters.nodeLocked ? { nodeLocked: true } : {}),
      ...(configHash ? { configHash } : {}),
      ...(adapters.planThreads ? { planThreads: adapters.planThreads } : {}),
    }));
  stack.defer(async () => void await engine.stop());
  // A local KV file the engine opened is checked in the background (integrity_check.ts): a
  // damaged page it would not read for hours is found now. Stopped before the store closes.
  const kvFile = adapters.store ? undefined : localKvFile(config.kv.path);
  const integrity = kvFile
    ? watchKvIntegrity({ file: kvFile, health: engine.store.health, log })
    : undefined;
  if (integrity) stack.defer(() => integrity.stop());

  // Alerts and metrics: deferred after the engine, so stopped before the store closes.
  const { alerts, metrics, middleware } = startMonitoring(engine, httpSender, adapters, stack);
  // Translation sets imported into KV override the config's from the first message on.
  const shaping = await step(
    "cannot load the translation sets",
    () => startShaping(engine, log, adapters.clock),
  );
  stack.defer(() => shaping.close());

  const servers: Servers = { mllp: [] };
  const s = config.sftpServer;
  if (s) {
    const hosted = await step(
      "cannot start the SFTP server",
      () => startHostedSftp(config, s, engine, log),
    );
    // The hosted folder may be storing an upload: it stops before the store closes.
    stack.defer(() => hosted.stop());
    servers.sftp = hosted;
  }

  for (const listener of bound.values()) {
    const server = listener.serve(engine.inbox);
    stack.defer(() => server.close());
    servers.mllp.push(server);
  }
  // Reloads open and close MLLP ports in `servers.mllp`; the ones they opened close with it.
  const reloader = adapters.configFile
    ? new ConfigReloader({
      file: adapters.configFile,
      engine,
      servers: servers.mllp,
      ...(bound.has(0) ? { port0: bound.get(0)!.port } : {}),
      log,
      ...(adapters.clock ? { now: () => adapters.clock!.now() } : {}),
    })
    : undefined;
  if (reloader) stack.defer(() => reloader.close());

  // The sandbox's peers (config `sandbox`); deliveries to them before they listen are retried.
  const sandbox = config.sandbox
    ? await step("cannot start the sandbox", () =>
      startSandbox(config, {
        log,
        mllpConnector,
        httpSender,
        ...(adapters.clock ? { clock: adapters.clock } : {}),
        // Its API source's tokens are signed with the engine's key.
        auth: engine.store.auth,
      }))
    : undefined;
  if (sandbox) stack.defer(() => sandbox.close());

  const closers: (() => void)[] = [];
  const app = await step(
    "cannot create the admin token",
    () =>
      httpApp(
        config,
        engine,
        servers,
        log,
        sandbox,
        shaping,
        {
          alerts: alertsAdmin(alerts, () => engine.config),
          storage: { report: () => storageReport(engine.store) },
          ...(reloader ? { config: reloader } : {}),
        },
        closers,
        { metrics, middleware },
        adapters.clock ? () => adapters.clock!.now() : Date.now,
      ),
  );
  if (adapters.http !== false) {
    const http = await step(
      "cannot serve HTTP",
      () => servePublic({ fetch: app.fetch, http: config.http, limits: config.limits, log }),
    );
    stack.defer(() => http.shutdown());
    servers.http = http;
  }
  // The console's event streams end first: an open stream would hold the HTTP shutdown.
  stack.defer(() => closers.forEach((close) => close()));

  // Everything is up: from here on, close() owns what the stack holds.
  const owned = stack.move();
  let closing: Promise<StopReport> | undefined;
  const stop = (options: { graceMs?: number } = {}) =>
    closing ??= (async () => {
      const graceMs = options.graceMs ?? DEFAULT_STOP_GRACE_MS;
      const started = performance.now();
      const intake = drainIntake(servers, graceMs, closers);
      // Deliveries go on while the intake drains (a forward destination's verdict may be what a
      // sender waits for); then, or at the latest DELIVERY_RESERVE_MS before the grace ends, they
      // are held and given the rest of the grace to take in the ACKs of what is on the wire.
      await settlesWithin(intake, Math.max(0, graceMs - deliveryReserveMs(graceMs)));
      const deliveries = await engine.supervisor.drain(
        Math.max(0, started + graceMs - performance.now()),
      );
      const report = await intake;
      await owned.disposeAsync();
      return { ...report, deliveries };
    })();
  return {
    engine,
    servers,
    app,
    ...(sandbox ? { sandbox } : {}),
    alerts,
    ...(integrity ? { kvIntegrity: integrity.done } : {}),
    reload: (by) =>
      reloader?.reload(by) ??
        Promise.resolve({
          ok: false,
          status: 409,
          error: "the engine was started without a config file: nothing to reload",
        }),
    intake: () => intakeInFlight(servers),
    stop,
    close: async () => void await stop(),
    [Symbol.asyncDispose]: async () => void await stop(),
  };
}

/** The part of a stop's grace kept for the delivery actors: 2 s of 10 s (a fifth of a short one). */
function deliveryReserveMs(graceMs: number): number {
  return Math.min(DELIVERY_RESERVE_MS, Math.floor(graceMs / 5));
}
