/**
 * The operator console (HTML, server-rendered with `hono/jsx`, htmx and Server-Sent Events):
 * connections and data flows, logs with attempts, actors and queues, destinations, alerts,
 * metrics, the audit log and users. Routes under `/console` (DESIGN.md's contract): `login`,
 * `connections`, `connections/:id`, `logs`, `logs/:id`, `actors`, `destinations`, `alerts`,
 * `metrics`, `audit`, `users`, `upload`.
 *
 * Everything goes through the engine's ports (`AdminService`, `AdminSupervisor`,
 * `ConsoleStateStore`, `DestinationAdmin`); sign-in by password (argon2id) or token, sessions
 * with idle and absolute expiry, CSRF tokens, roles, a strict CSP.
 * @module
 */

import { Hono } from "hono";
import type {
  AdminService,
  ClusterView,
  Config,
  ConsoleStateStore,
  DestinationAdmin,
  Logger,
  Secret,
} from "../../../actors/ports.ts";
import type { ListingSupervisor } from "../unserved.ts";
import { actorRoutes } from "./actors.tsx";
import { alertRoutes } from "./alerts.tsx";
import { ASSETS } from "./assets.ts";
import { auditRoutes } from "./audit_page.tsx";
import { connectionRoutes } from "./connections.tsx";
import type { ConsoleAlerts, ConsoleDeps, ConsoleEnv, ConsoleFileIntake } from "./context.ts";
import { destinationRoutes } from "./destinations.tsx";
import { ChangeFeed, eventRoutes } from "./events.ts";
import { logDetailRoutes } from "./log_detail.tsx";
import { loginRoutes } from "./login.tsx";
import { logRoutes } from "./logs.tsx";
import { metricsRoutes } from "./metrics.tsx";
import { formBodyLimit, requireCsrf, requireSession, securityHeaders } from "./security.ts";
import { Sessions } from "./sessions.ts";
import { TallyCache } from "./tally.ts";
import { uploadBodyLimit, uploadRoutes } from "./upload.tsx";
import { userRoutes } from "./users_page.tsx";
import { Users } from "./users.ts";

export { type Principal, ROLES, Users } from "./users.ts";
export { CSP } from "./security.ts";

/** What {@link createConsole} is built from. */
export interface ConsoleOptions {
  config: ConsoleDeps["config"] & Pick<Config, "admin">;
  /** Actors and their commands; the queues no live node serves too when it lists them. */
  supervisor: ListingSupervisor;
  store: AdminService;
  state: ConsoleStateStore;
  destinations?: DestinationAdmin;
  /** The admin token (signs in as `admin`). */
  adminToken: Secret;
  log: Logger;
  /** The clock sessions and pages read, `Date.now` by default. */
  now?: () => number;
  /** Time-ordered ids for audit entries. */
  newId: () => string;
  /** Served over TLS: cookies get `Secure` and the `__Host-` prefix. */
  secure: boolean;
  actorOfDestination: (destinationId: string) => string | undefined;
  /** The nodes sharing the KV and each actor's owner (the actors page shows them). */
  cluster?: ClusterView;
  /** How often the live-update stream looks for changes, default 1 s. */
  pollMs?: number;
  /** The engine's file intake, for `/console/upload` (refused without it). */
  files?: ConsoleFileIntake;
  /** The alert monitor's records and rules, for `/console/alerts` (read only). */
  alerts?: ConsoleAlerts;
}

/** The console app and what the rest of the engine shares with it. */
export interface ConsoleApp {
  /** Routes under `/console`. */
  app: Hono;
  /** Who may sign in; the admin API takes the same users' bearer tokens. */
  users: Users;
  /** Ends open event streams (before the HTTP server shuts down). */
  close(): void;
}

/**
 * State-changing console routes and the role each needs (every one also needs a session and its
 * CSRF token). Tests check that these are all the POST routes there are.
 */
export const STATE_CHANGING_ROUTES: readonly { path: string; role: string }[] = [
  { path: "/console/actors/:id/pause", role: "operator" },
  { path: "/console/actors/:id/resume", role: "operator" },
  { path: "/console/actors/:id/retry", role: "operator" },
  { path: "/console/actors/:id/skip", role: "operator" },
  { path: "/console/logs/:id/reprocess", role: "operator" },
  { path: "/console/destinations/:id/verify", role: "operator" },
  { path: "/console/upload", role: "operator" },
  { path: "/console/users", role: "admin" },
  { path: "/console/users/:name/delete", role: "admin" },
];

/** See the module doc. */
export function createConsole(options: ConsoleOptions): ConsoleApp {
  const now = options.now ?? Date.now;
  const admin = options.config.admin;
  const users = new Users({
    configured: admin.users,
    adminToken: options.adminToken,
    state: options.state,
  });
  const deps: ConsoleDeps = {
    config: options.config,
    supervisor: options.supervisor,
    store: options.store,
    state: options.state,
    ...(options.destinations ? { destinations: options.destinations } : {}),
    users,
    sessions: new Sessions({
      idleMs: admin.sessionIdleMinutes * 60_000,
      maxMs: admin.sessionMaxHours * 3_600_000,
      now,
    }),
    log: options.log,
    now,
    newId: options.newId,
    secure: options.secure,
    actorOfDestination: options.actorOfDestination,
    ...(options.cluster ? { cluster: options.cluster } : {}),
    ...(options.files ? { files: options.files } : {}),
    ...(options.alerts ? { alerts: options.alerts } : {}),
  };
  const feed = new ChangeFeed(deps, options.pollMs ?? 1000);
  const app = new Hono<ConsoleEnv>();
  app.use("/console", securityHeaders());
  app.use("/console/*", securityHeaders());

  app.get("/console/static/:name", (c) => {
    const asset = ASSETS.get(c.req.param("name"));
    if (!asset) return c.text("not found", 404);
    return c.body(asset.body, 200, {
      "Content-Type": asset.type,
      "Cache-Control": "public, max-age=3600",
    });
  });
  // No console body is read whole before its size is checked: sign-in needs no session.
  app.use("/console/*", formBodyLimit());
  loginRoutes(app, deps, {
    attemptsPerWindow: admin.loginAttemptsPerIp,
    windowMs: 300_000,
  });

  // An upload's size is checked before anything (the CSRF check included) reads its body.
  app.use("/console/upload", uploadBodyLimit(options.files));
  // Everything below needs a session; every POST also its CSRF token.
  app.use("/console", requireSession(deps));
  app.use("/console/*", requireSession(deps), requireCsrf());
  app.get("/console", (c) => c.redirect("/console/connections", 303));
  connectionRoutes(app, deps, new TallyCache(deps.store, now));
  logRoutes(app, deps);
  logDetailRoutes(app, deps);
  actorRoutes(app, deps);
  destinationRoutes(app, deps);
  alertRoutes(app, deps);
  metricsRoutes(app, deps);
  auditRoutes(app, deps);
  userRoutes(app, deps);
  uploadRoutes(app, deps);
  eventRoutes(app, feed);
  app.all("/console/*", (c) => c.text(`no page ${c.req.method} ${c.req.path}`, 404));
  app.onError((error, c) => {
    deps.log.error("console.failed", { method: c.req.method, path: c.req.path, error });
    return c.text("internal error (logged)", 500);
  });
  return { app: app as unknown as Hono, users, close: () => feed.shutdown() };
}
