/**
 * The operations part of the admin endpoint (Hono): alert rules and their history, the running
 * config's version and its reload, and what the store holds. Mounted under `/admin`, after its
 * bearer-token check; on its own it authenticates nobody.
 * @module
 */

import { type Context, Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { AlertsAdmin } from "../../actors/ports.ts";
import { errorMessage } from "../../actors/mod.ts";
import { parsePageQuery } from "./params.ts";
import { isoTimes } from "./present.ts";
import { sendJson } from "./respond.ts";
import { duplicateKeyAt } from "../../codecs/json/mod.ts";

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

/**
 * Routes, relative to where the app is mounted:
 *
 * - `GET /alerts` → `{source, evaluateEverySeconds, channels, rules, firing}`.
 * - `PUT /alerts` with `{"rules": [...]}` (or `{"rules": null}`: back to the config's) → 200
 *   `{ok: true, rules}`, or 400 `{error, problems: [{path, message}]}`.
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
    app.put("/alerts", bodyLimit({ maxSize: MAX_BODY, onError: tooLarge }), async (c) => {
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
      const result = await alerts.put(body);
      if (!result.ok) {
        return sendJson(c, { error: "invalid alert rules", problems: result.problems }, 400);
      }
      return sendJson(c, { ok: true, rules: result.rules });
    });
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
      const who = c.get("principal" as never) as { name: string; role: string } | undefined;
      if (who && who.role !== "admin") {
        return sendJson(
          c,
          { error: `forbidden: ${who.name} is ${who.role}; this needs admin` },
          403,
        );
      }
      const result = await config.reload(who?.name ?? "admin");
      if (result.ok) return sendJson(c, result);
      return sendJson(c, result, result.status);
    });
  }

  const storage = options.storage;
  if (storage) app.get("/storage", async (c) => sendJson(c, isoTimes(await storage.report())));
  return app;
}
