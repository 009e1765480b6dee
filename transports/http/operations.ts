/**
 * The operations part of the admin endpoint (Hono): alert rules and their history, the running
 * config's version and its reload, and what the store holds. Mounted under `/admin`, after its
 * bearer-token check; on its own it authenticates nobody.
 * @module
 */

import { type Context, Hono, type MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { AlertsAdmin } from "../../actors/ports.ts";
import { errorMessage } from "../../actors/mod.ts";
import { parsePageQuery } from "./params.ts";
import { isoTimes } from "./present.ts";
import { sendJson } from "./respond.ts";
import { duplicateKeyAt } from "../../codecs/json/mod.ts";
import { adminUsersOf, auditApi, type TokenPrincipal } from "./admin_roles.ts";
import { adminLogOf } from "./auth.ts";

/** One problem of a refused change, at its JSON path. */
export interface PathProblem {
  path: string;
  message: string;
}

/** The running config and its reload (app/compose.ts provides it). */
export interface ConfigAdmin {
  /** The running version (a short hash of the file) and when it was loaded. */
  current(): { version: string; loadedAt: number; file?: string };
  /** Reads the file again; applies it, or refuses with every problem and changes nothing. */
  reload(by: string): Promise<
    | { ok: true; version: string; changed: boolean; applied: string[] }
    | { ok: false; status: 400 | 409 | 500; error: string; problems?: PathProblem[] }
  >;
}

/** What the store holds, by record kind (the store provides it). */
export interface StorageAdmin {
  report(): Promise<unknown>;
}

/** What {@link createOperationsApp} serves; each part is optional. */
export interface OperationsAppOptions {
  alerts?: AlertsAdmin;
  config?: ConfigAdmin;
  storage?: StorageAdmin;
}

/** Largest accepted body (alert rules). */
const MAX_BODY = 256 * 1024;
/** Rule ids named in an audit entry at most (the rest counted). */
const MAX_AUDITED_IDS = 50;

/**
 * `403` unless the request's principal has the admin role (a request authenticated by the admin
 * token alone, without users, is the admin), with a warning `admin.forbidden`; else undefined.
 */
function refuseUnlessAdmin(c: Context): Response | undefined {
  const who = c.get("principal" as never) as TokenPrincipal | undefined;
  if (!who || who.role === "admin") return undefined;
  adminLogOf(c)?.warn("admin.forbidden", {
    user: who.name,
    role: who.role,
    path: c.req.path.slice(0, 256),
  });
  return sendJson(c, { error: `forbidden: ${who.name} is ${who.role}; this needs admin` }, 403);
}

/** The ids of `rules` (what an audit entry names), the first {@link MAX_AUDITED_IDS}. */
function ruleIds(rules: unknown): string {
  const list = Array.isArray(rules) ? rules : [];
  const ids = list.slice(0, MAX_AUDITED_IDS).map((r) =>
    String((r as { id?: unknown } | null)?.id ?? "?").slice(0, 128)
  );
  const more = list.length - ids.length;
  return `[${ids.join(", ")}${more > 0 ? `, … ${more} more` : ""}]`;
}

/**
 * Routes, relative to where the app is mounted:
 *
 * - `GET /alerts` → `{source, evaluateEverySeconds, channels, rules, firing}`.
 * - `PUT /alerts` with `{"rules": [...]}` (or `{"rules": null}`: back to the config's) → 200
 *   `{ok: true, rules}`, or 400 `{error, problems: [{path, message}]}`. The admin role only (an
 *   operator or viewer gets 403): replacing the rules can silence every alert. A change is
 *   audited (`alerts.replace`, the rule ids before and after) and logged
 *   (`alerts.rules-replaced by=… role=… before=N after=M source=admin|config`).
 * - `GET /alerts/history?limit=1..500&before=<next>` → `{notifications, next}` newest first;
 *   another parameter, or a bad value, → 400 naming it.
 * - `GET /config` → `{version, hash, generation, loadedAt, file}`, `loadedAt` as ISO 8601.
 * - `POST /config/reload` → 200 `{ok, version, changed, applied}`; 400 with `problems` for an
 *   invalid file; 409 when a removed destination still has queued messages, when a change needs
 *   a restart, or when a new MLLP port cannot be bound (`problems` at
 *   `$.integrations[i].mllp.port`).
 * - `GET /storage` → counts and approximate bytes per record kind.
 */
export function createOperationsApp(options: OperationsAppOptions): Hono {
  const app = new Hono();
  app.onError((error, c) => sendJson(c, { error: `operations: ${errorMessage(error)}` }, 500));

  const alerts = options.alerts;
  if (alerts) {
    app.get("/alerts", async (c) => sendJson(c, isoTimes(await alerts.view())));
    // The size is checked before the body is read (a length, or as it streams).
    const tooLarge = (c: Context) => sendJson(c, { error: `body over ${MAX_BODY} bytes` }, 413);
    const adminOnly: MiddlewareHandler = async (c, next) => {
      const refused = refuseUnlessAdmin(c);
      return refused ?? await next();
    };
    app.put(
      "/alerts",
      adminOnly,
      bodyLimit({ maxSize: MAX_BODY, onError: tooLarge }),
      async (c) => {
        const text = await c.req.text();
        let body: unknown;
        try {
          body = JSON.parse(text);
        } catch (error) {
          return sendJson(c, { error: `not valid JSON: ${errorMessage(error)}` }, 400);
        }
        const repeated = duplicateKeyAt(text);
        if (repeated) {
          const error = `not valid: "${repeated.key}" is named twice at ${repeated.path}`;
          return sendJson(c, { error }, 400);
        }
        const before = (await alerts.view()).rules;
        const result = await alerts.put(body);
        if (!result.ok) {
          return sendJson(c, { error: "invalid alert rules", problems: result.problems }, 400);
        }
        const who = c.get("principal" as never) as TokenPrincipal | undefined;
        const source = (body as { rules?: unknown }).rules === null ? "config" : "admin";
        const counts = {
          before: Array.isArray(before) ? before.length : 0,
          after: result.rules.length,
        };
        // Ids and counts only: a rule names no secret, and channels (webhook secrets, SMTP
        // passwords) are not part of the change.
        adminLogOf(c)?.info("alerts.rules-replaced", {
          by: who?.name ?? "admin",
          role: who?.role ?? "admin",
          ...counts,
          source,
        });
        await auditApi(adminUsersOf(c), c, {
          action: "alerts.replace",
          target: "alerts",
          reason: "",
          ok: true,
          message: `rules ${counts.before} → ${counts.after} (${source}): before ${
            ruleIds(before)
          }, after ${ruleIds(result.rules)}`,
        });
        return sendJson(c, { ok: true, rules: result.rules });
      },
    );
    app.get("/alerts/history", async (c) => {
      const query = parsePageQuery(new URL(c.req.url).searchParams, "before", 50);
      if (!query.ok) return sendJson(c, { error: query.error }, 400);
      const { limit, cursor } = query.value;
      const page = await alerts.history({ limit, ...(cursor ? { before: cursor } : {}) });
      return sendJson(c, isoTimes({ notifications: page.notifications, next: page.next ?? null }));
    });
  }

  const config = options.config;
  if (config) {
    app.get("/config", (c) => sendJson(c, isoTimes(config.current())));
    app.post("/config/reload", async (c) => {
      // Reloading changes listeners and destinations: the admin role only (an operator gets 403).
      const refused = refuseUnlessAdmin(c);
      if (refused) return refused;
      const who = c.get("principal" as never) as TokenPrincipal | undefined;
      const result = await config.reload(who?.name ?? "admin");
      if (result.ok) return sendJson(c, result);
      return sendJson(c, result, result.status);
    });
  }

  const storage = options.storage;
  if (storage) app.get("/storage", async (c) => sendJson(c, isoTimes(await storage.report())));
  return app;
}
