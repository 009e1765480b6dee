/**
 * The one composition root: `compose(config, adapters)` opens the store, starts the engine and its
 * actors, the hosted SFTP folder, the MLLP listeners and the HTTP server (health, metrics, admin,
 * token endpoint, JSON API), and gives back `{ engine, servers, close() }`. main.ts, tests and
 * benchmarks all wire the engine through it; adapters (connectors, senders, clock, an open store)
 * replace the real ones where a test wants fakes.
 *
 * Every step that fails closes, in reverse order, what the steps before it opened
 * (`AsyncDisposableStack`), then throws a {@link ComposeError} saying which step failed.
 * @module
 */

import { Hono, type MiddlewareHandler } from "hono";
import type { Config } from "../actors/config/mod.ts";
import { Engine, type EngineOptions } from "../actors/engine/engine.ts";
import type { HttpSender, MllpConnector, SftpConnector } from "../actors/ports.ts";
import { type Clock, systemClock } from "../actors/runtime/clock.ts";
import { healthReport } from "../actors/runtime/health.ts";
import type { Logger } from "../actors/runtime/log.ts";
import type { Store } from "../actors/store/store.ts";
import { errorMessage } from "../actors/mod.ts";
import { isTemporaryName } from "../codecs/files/mod.ts";
import { createAdminApp } from "../transports/http/mod.ts";
import { AccessTokens } from "../transports/http/access_token.ts";
import { ClientAssertionVerifier } from "../transports/http/client_assertion.ts";
import { createEndpointApp } from "../transports/http/endpoint.ts";
import { createFhirApp } from "../transports/http/fhir.ts";
import { createForwardApp } from "../transports/http/forward.ts";
import { RateLimiter } from "../transports/http/rate_limit.ts";
import { type HttpDrainReport, type PublicServer, servePublic } from "../transports/http/serve.ts";
import { createTokenApp, tokenUrlFor } from "../transports/http/token_endpoint.ts";
import { FetchSender } from "../transports/https/mod.ts";
import { ThreadMllpConnector } from "../transports/mllp/thread_connector.ts";
import type { BoundMllpListener, MllpDrainReport, MllpServer } from "../transports/mllp/server.ts";
import {
  hostedOutboxSessions,
  HostedSftpServer,
  sshSftpConnector,
} from "../transports/sftp/mod.ts";
import { NodemailerSender } from "../transports/smtp/mod.ts";
import type { OperationsAppOptions } from "../transports/http/operations.ts";
import { AlertMonitor } from "../actors/alerts/monitor.ts";
import { alertsAdmin } from "../actors/alerts/admin.ts";
import { engineInputs } from "../actors/alerts/inputs.ts";
import type { MailSender } from "../actors/ports.ts";
import { EngineMetrics } from "../actors/engine/metrics.ts";
import { storageReport } from "../actors/store/retention.ts";
import {
  type IntegrityResult,
  localKvFile,
  watchKvIntegrity,
} from "../actors/store/integrity_check.ts";
import { metricsText, processMetrics } from "./metrics.ts";
import { adminToken } from "./admin_token.ts";
import { mountConsole } from "./console.ts";
import { mountNodes } from "./cluster_admin.ts";
import { type Sandbox, startSandbox } from "./sandbox.ts";
import { leaveInOutbox } from "./hosted_acks.ts";
import { type ShapingRuntime, startShaping } from "./shaping.ts";
import { bindListener, ConfigReloader, mllpPorts, type ReloadResult } from "./reload.ts";

/** What {@link compose} may be given instead of the real thing (all optional but `log`). */
export interface Adapters {
  log: Logger;
  /** Outbound MLLP; the socket connector by default. */
  mllpConnector?: MllpConnector;
  /** HTTPS destinations; a `fetch` sender by default (closed by `close()` when it made it). */
  httpSender?: HttpSender;
  /** SFTP polls and destinations; ssh2 by default. */
  sftpConnector?: SftpConnector;
  clock?: Clock;
  /** An already-open store (tests); otherwise opened from `config.kv` and closed by `close()`. */
  store?: Store;
  /** Poll period for work written by other processes, default 1 s. */
  pollMs?: number;
  /** This process holds its node id's lock on the local KV file (see `EngineOptions`). */
  nodeLocked?: boolean;
  /** Leave out the HTTP server (tests of MLLP or SFTP only). */
  http?: boolean;
  /** E-mail for alert channels; SMTP through nodemailer by default. */
  mailSender?: MailSender;
  /** The file the config came from: `POST /admin/config/reload` and SIGHUP read it again. */
  configFile?: string;
  /** How the planning thread for large messages runs (tests); see actors/engine/plan_threads.ts. */
  planThreads?: EngineOptions["planThreads"];
}

/** The servers {@link compose} started, with the ports they are bound to. */
export interface Servers {
  /** The public HTTP(S) server; `http.port` is the bound port (config `http.port` may be 0). */
  http?: PublicServer;
  /** One per MLLP integration port of the config, in the order the config first names them. */
  mllp: MllpServer[];
  /** The hosted SFTP folder, when the config has `sftpServer`. */
  sftp?: HostedSftpServer;
}

/** A running engine and its servers. */
export interface Composed extends AsyncDisposable {
  engine: Engine;
  servers: Servers;
  /** The Hono app served over HTTP (tests may `fetch` it without a socket). */
  app: Hono;
  /** The development sandbox, when the config has `sandbox`. */
  sandbox?: Sandbox;
  /** The alert monitor (config `alerts`). */
  alerts: AlertMonitor;
  /** The background integrity check of the KV file the engine opened (none for `:memory:`, a
   * KV Connect URL or a store given in `adapters`): its result, once reported. */
  kvIntegrity?: Promise<IntegrityResult>;
  /** Reads the config file again and applies it (app/reload.ts); refused without a file. */
  reload(by: string): Promise<ReloadResult>;
  /** What a stop would drain now (see {@link Composed.stop}). */
  intake(): IntakeInFlight;
  /**
   * Stops everything. First the intake drains, HTTP and MLLP together, within `graceMs` (10 s by
   * default): no new connections; requests and MLLP frames already received finish (commit and
   * answer); what comes meanwhile is refused (HTTP `503`, MLLP `AE`, never stored); at the grace
   * what is left is cut off. Then the sandbox, the SFTP folder, the engine (and its store), the
   * sender. Calling it again (or {@link close}) joins the stop under way.
   */
  stop(options?: { graceMs?: number }): Promise<StopReport>;
  /** {@link stop} with the default grace, without the report. */
  close(): Promise<void>;
}

/** Default grace of {@link Composed.stop} for what is in flight. */
export const DEFAULT_STOP_GRACE_MS = 10_000;

/** What {@link Composed.intake} reports. */
export interface IntakeInFlight {
  /** Open MLLP connections. */
  mllpConnections: number;
  /** MLLP frames received and not answered yet (being committed, or queued behind a commit). */
  mllpUnanswered: number;
  /** HTTP requests being answered. */
  httpRequests: number;
}

/** How {@link Composed.stop} went. */
export interface StopReport {
  /** Whether the intake drained within the grace (nothing was cut off). */
  drained: boolean;
  /** From the start of the stop to the end of the drain, ms. */
  drainMs: number;
  /** Summed over the MLLP listeners. */
  mllp: Omit<MllpDrainReport, "port">;
  http?: HttpDrainReport;
}

/** A step of {@link compose} failed; the message says which (`cannot listen: …`). */
export class ComposeError extends Error {
  /** The step's own error. */
  override readonly cause: unknown;

  /** `step` says what could not be done. */
  constructor(step: string, cause: unknown) {
    super(`${step}: ${errorMessage(cause)}`);
    this.name = "ComposeError";
    this.cause = cause;
  }
}

async function step<T>(what: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    throw new ComposeError(what, error);
  }
}

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
  const configHash = adapters.configFile
    ? await ConfigReloader.hashOf(adapters.configFile)
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
  stack.defer(() => engine.stop());
  // A local KV file the engine opened is checked in the background (integrity_check.ts): a
  // damaged page it would not read for hours is found now. Stopped before the store closes.
  const kvFile = adapters.store ? undefined : localKvFile(config.kv.path);
  const integrity = kvFile
    ? watchKvIntegrity({ file: kvFile, health: engine.store.health, log })
    : undefined;
  if (integrity) stack.defer(() => integrity.stop());

  // Alerts: deferred after the engine, so stopped before the store closes.
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
  // Translation sets imported into KV override the config's from the first message on.
  const shaping = await step(
    "cannot load the translation sets",
    () => startShaping(engine, log, adapters.clock),
  );
  stack.defer(() => shaping.close());

  const servers: Servers = { mllp: [] };
  const s = config.sftpServer;
  if (s) {
    const integrations = new Map(config.integrations.map((i) => [i.id, i]));
    const hosted = await step("cannot start the SFTP server", () =>
      HostedSftpServer.start({
        ...s,
        hostKey: s.hostKey.reveal(),
        maxFileBytes: config.limits.maxHl7Bytes,
        holdBack: isTemporaryName,
        log,
        onUpload: async (u) => {
          const integration = integrations.get(u.integration);
          if (!integration) throw new Error(`no integration ${u.integration}`);
          const taken = await engine.files.ingest({
            integration,
            fileName: u.fileName,
            bytes: u.bytes,
            peer: u.peer,
          });
          if (taken.acknowledgment) {
            await leaveInOutbox(s.root, u.user, u.path, taken.acknowledgment, log);
          }
        },
      }));
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
        { metrics, middleware: observed.middleware },
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
      const report = await drainIntake(servers, options.graceMs ?? DEFAULT_STOP_GRACE_MS, closers);
      await owned.disposeAsync();
      return report;
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
    intake: () => ({
      mllpConnections: servers.mllp.reduce((n, s) => n + s.connections, 0),
      mllpUnanswered: servers.mllp.reduce((n, s) => n + s.unanswered, 0),
      httpRequests: servers.http?.answering ?? 0,
    }),
    stop,
    close: async () => void await stop(),
    [Symbol.asyncDispose]: async () => void await stop(),
  };
}

/**
 * The first step of a stop: HTTP and every MLLP listener drain together, within one grace (see
 * {@link Composed.stop}); the console's event streams end first (an open one would hold HTTP).
 */
async function drainIntake(
  servers: Servers,
  graceMs: number,
  closers: readonly (() => void)[],
): Promise<StopReport> {
  const started = performance.now();
  const deadline = started + graceMs;
  closers.forEach((close) => close());
  const [http, mllp] = await Promise.all([
    servers.http?.drain(graceMs),
    Promise.all([...servers.mllp].map((s) => s.drain(deadline))),
  ]);
  const sum = { connections: 0, answered: 0, refused: 0, unanswered: 0, senders: 0 };
  for (const r of mllp) {
    sum.connections += r.connections;
    sum.answered += r.answered;
    sum.refused += r.refused;
    sum.unanswered += r.unanswered;
    sum.senders += r.senders;
  }
  return {
    drained: sum.unanswered === 0 && (http?.unanswered ?? 0) === 0,
    drainMs: Math.round(performance.now() - started),
    mllp: sum,
    ...(http ? { http } : {}),
  };
}

/** `config` with each MLLP port 0 (integrations and listeners) replaced by the bound port. */
function withBoundPorts(config: Config, bound: ReadonlyMap<number, BoundMllpListener>): Config {
  const chosen = bound.get(0)?.port;
  if (chosen === undefined) return config;
  return {
    ...config,
    integrations: config.integrations.map((i) =>
      i.mllp?.port === 0 ? { ...i, mllp: { ...i.mllp, port: chosen } } : i
    ),
    listeners: config.listeners.map((l) => l.port === 0 ? { ...l, port: chosen } : l),
  };
}

/** Health, metrics, admin, the token endpoint and the JSON API on one Hono app. */
async function httpApp(
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
  app.get("/metrics", async (c) => {
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
  const console = mountConsole(app, config, engine, token, log, now);
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

/** The JSON API: OAuth 2.0 client credentials (`/v2/auth/token`), then data-model messages
 * (`/endpoint`, `/query`). Tests that serve only the API use this too. */
export async function apiApp(config: Config, engine: Engine, log: Logger): Promise<Hono> {
  const app = new Hono();
  const tokens = await AccessTokens.open({ state: engine.store.auth });
  app.route(
    "/",
    createTokenApp({
      sources: config.sources,
      tokens,
      assertions: new ClientAssertionVerifier({
        sources: config.sources,
        state: engine.store.auth,
      }),
      ...(config.http.publicUrl ? { tokenUrls: [tokenUrlFor(config.http.publicUrl)] } : {}),
      // Token requests are few; more than this per address in 5 minutes is a misbehaving client.
      rateLimiter: new RateLimiter({ limit: 300, windowMs: 300_000 }),
      log,
    }),
  );
  // One per-IP limit for the JSON and the FHIR API.
  const rateLimiter = new RateLimiter({
    limit: config.limits.rateLimitPerIp,
    windowMs: config.limits.rateLimitWindowSeconds * 1000,
  });
  app.route(
    "/",
    createEndpointApp({
      tokens,
      inbox: engine.api,
      queries: engine.queries,
      limits: config.limits,
      rateLimiter,
      log,
    }),
  );
  app.route(
    "/",
    createFhirApp({ tokens, inbox: engine.api, limits: config.limits, rateLimiter, log }),
  );
  // Agent mode: messages other engines forward (a source's token, mapped to an integration).
  app.route("/", createForwardApp({ tokens, inbox: engine.forwards, rateLimiter, log }));
  return app;
}
