/**
 * Mounts the operator console (transports/http/console) on the engine's HTTP app, through the
 * engine's ports, and gives the admin API the same users (bearer tokens with roles) and audit log.
 * @module
 */

import type { Hono } from "hono";
import type { AlertsAdmin, Config, Secret } from "../actors/ports.ts";
import type { Engine } from "../actors/engine/engine.ts";
import { destinationActorId } from "../actors/engine/identities.ts";
import type { Logger } from "../actors/runtime/log.ts";
import { alertStoreOf } from "../actors/store/alerts.ts";
import { createConsole } from "../transports/http/console/mod.ts";
import type { ConsoleAlerts } from "../transports/http/console/context.ts";
import type { AdminUsers } from "../transports/http/admin_roles.ts";

/** What the console mount gives back. */
export interface MountedConsole {
  /** For `createAdminApp({ users })`. */
  users: AdminUsers;
  /** Ends the console's open event streams. */
  close(): void;
}

/** Routes the console at `/console` on `app`. */
export function mountConsole(
  app: Hono,
  config: Config,
  engine: Engine,
  token: Secret,
  log: Logger,
  now: () => number = Date.now,
  alerts?: AlertsAdmin,
): MountedConsole {
  const store = engine.store;
  const https = engine.https;
  const actors = new Map(config.destinations.map((d) => [d.id, destinationActorId(d)]));
  const console = createConsole({
    config,
    supervisor: engine.supervisor,
    store,
    state: store.console,
    ...(https
      ? {
        destinations: {
          list: () => https.list(),
          verify: (id: string) =>
            https.verify(id)?.then(async (result) => {
              // A queue waiting on its verification goes now, not at its next retry.
              if (result.verified) {
                await engine.supervisor.command(`https:${id}`, "retry", "console", "verified");
              }
              return result;
            }),
        },
      }
      : {}),
    adminToken: token,
    log,
    now,
    newId: () => store.newId(),
    secure: config.http.tls !== undefined,
    actorOfDestination: (id) => actors.get(id),
    cluster: engine.cluster,
    // Uploads go through the SFTP folders' intake: split, stored, routed and acknowledged alike.
    files: { maxBytes: config.limits.maxHl7Bytes, ingest: (file) => engine.files.ingest(file) },
    ...(alerts ? { alerts: consoleAlerts(engine, alerts) } : {}),
  });
  app.route("/", console.app);
  return {
    users: {
      byToken: (t) => console.users.byToken(t),
      audit: (entry) => store.console.appendAudit({ id: store.newId(), at: now(), ...entry }),
      listAudit: (options) => store.console.listAudit(options),
    },
    close: () => console.close(),
  };
}

/**
 * What the alerts page reads: the alert records in the engine's KV (the same ones the monitor
 * writes, shared by every process on the KV), and the rules in force as `GET /admin/alerts` gives
 * them (the monitor's choice between stored and configured rules, with any problems).
 */
function consoleAlerts(engine: Engine, admin: AlertsAdmin): ConsoleAlerts {
  const records = alertStoreOf(engine.store);
  return {
    firing: () => records.states(),
    history: (options) => admin.history(options),
    ruleSet: () => admin.ruleSet(),
    settings: () => ({
      evaluateEverySeconds: engine.config.alerts.evaluateEverySeconds,
      channels: engine.config.alerts.channels.map((ch) => ({
        id: ch.id,
        type: ch.webhook ? "webhook" : "email",
      })),
    }),
  };
}
