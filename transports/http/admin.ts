/**
 * The admin HTTP endpoint (Hono), everything under `/admin` behind a bearer token: actor status
 * and operator commands, logs with filters, messages with their payload, dead letters.
 *
 * Authentication runs before routing, so an unauthenticated client gets the same 401 for every
 * path under `/admin`, existing or not. Errors are JSON `{"error": "..."}`; every response carries
 * `Cache-Control: no-store`.
 * @module
 */

import { type Context, Hono } from "hono";
import { sendJson as sendRaw } from "./respond.ts";
import { bodyLimit } from "hono/body-limit";
import { HTTPException } from "hono/http-exception";
import type { ActorCommand, AdminService, Logger, Secret } from "../../actors/ports.ts";
import { requireBearer } from "./auth.ts";
import { type AdminUsers, auditApi, requireRoleByToken } from "./admin_roles.ts";
import { BodyTimeoutError } from "./body.ts";
import { createDestinationsApp, type DestinationsAppOptions } from "./destinations.ts";
import { createOperationsApp, type OperationsAppOptions } from "./operations.ts";
import { parseCommandBody, parseLimitQuery, parseLogFilter, parsePageQuery } from "./params.ts";
import { searchByPatient, splitPatientQuery } from "./patient_search.ts";
import { actorView, isoTimes, messageView, rawDownloadHeaders } from "./present.ts";
import { withModified } from "./shaped_view.ts";
import { type ListingSupervisor, unservedOf } from "./unserved.ts";

export type { AdminSupervisor } from "../../actors/ports.ts";

/** Every admin answer, with its times as ISO 8601 UTC. */
const sendJson = (
  c: Context,
  value: unknown,
  ...rest: Parameters<typeof sendRaw> extends [Context, unknown, ...infer R] ? R : never
) => sendRaw(c, isoTimes(value), ...rest);

/** What {@link createAdminApp} is built from. */
export interface AdminAppOptions {
  /** Actors and their commands; the queues no live node serves too when it lists them. */
  supervisor: ListingSupervisor;
  /** Logs, messages, dead letters and reprocessing (the engine's store). */
  store: AdminService;
  /** The bearer token clients must present; must not be empty. */
  token: Secret;
  log: Logger;
  /** The time stamped on actor listings, `Date.now` by default. */
  now?: () => number;
  /** `GET /admin/destinations` and `POST /admin/destinations/:id/verify`. */
  destinations?: DestinationsAppOptions;
  /** Alerts, config reload, storage (operations.ts). */
  operations?: OperationsAppOptions;
  /** Users by bearer token with roles (viewer: GET only), the audit log; else the token only. */
  users?: AdminUsers;
}

/** Largest accepted command body. */
const MAX_BODY = 16 * 1024;
/**
 * Ids longer than this exist nowhere (store ids are short; config ids at most 128): refused with
 * 400 before any lookup, so a client's value never makes a KV key over its 2 KiB limit.
 */
export const MAX_ID = 256;

/**
 * The admin app. An `:id` over {@link MAX_ID} characters is refused with
 * `400 {"error": "id: at most 256 characters; got N"}`. Routes (all need `Authorization: Bearer <token>`, else
 * `401 {"error":"unauthorized"}` with `WWW-Authenticate: Bearer`):
 *
 * - `GET /admin/actors` → `{at, actors: ActorStatusView[], unserved: UnservedQueue[]}` (`at`:
 *   when the list was made). Every time in every answer is ISO 8601 UTC to the millisecond
 *   (`2024-03-15T17:30:00.123Z`). `unserved`: queues with messages that no running node's config
 *   can build an actor for (no actor anywhere, so in no `actors` list), as the last restore round
 *   saw them: `{actor, queued, since, forMs, pastGrace, warned, reason, hint}` (unserved.ts).
 * - `GET /admin/actors/:id` → `ActorStatusView`, or 404 `{"error":"no actor <id>"}` (with
 *   `unserved` when it is an unserved queue). Ids may contain `:` as is or percent-encoded (`%3A`).
 * - `POST /admin/actors/:id/{pause,resume,retry,skip}`, optional JSON body `{"by"?, "reason"?}`
 *   (`by` defaults to `"admin"`; `reason` to `""`, but is required for `skip`) → `CommandResult`
 *   `{ok, message}`: 200 when ok, 409 when refused, 404 for an unknown actor, 400 for a bad body,
 *   413 for a body over 16 KiB.
 * - `GET /admin/actors/:id/dead-letters[?limit=1..500]` → `{actor, deadLetters}` (default 100).
 * - `GET /admin/logs?status&type&dataModel&eventType&destination&integration&since&until&cursor&limit`
 *   → `{logs: LogRecord[], next: string | null}` newest first; pass `next` as `cursor` for the
 *   next page. Times are ISO 8601 with a zone, a date, or ms. Bad values → 400 naming them.
 *   With `patient=ID` or `patient=ID^^^AUTHORITY`: the RECEIVE logs of HL7 v2 messages whose
 *   PID-3 holds that identifier, by a bounded scan (20,000 logs, 32 MiB of messages) of the logs
 *   the other filters select; `scan: {logs, bytes, cut, unreadable}` says how far it went (`cut`
 *   "logs" or "bytes" when a bound stopped it: `next` continues; `unreadable` messages skipped).
 * - `GET /admin/logs/:id` → the `LogRecord` (with its attempts), or 404.
 * - `POST /admin/logs/:id/reprocess`, optional body `{"by"?, "reason"?}`: a dead-lettered
 *   message (FAILED: unparsable, unmapped, skipped, or rejected under `onNack: dead-letter`) goes
 *   back to the end of its queue, its log PENDING → `{ok, message, log}`; 409 when the log is not
 *   in a dead-letter list, 404 for an unknown log.
 * - `GET /admin/messages/:id` → `MessageView` (the record without `inline`, plus
 *   `encoding`, `payload` and `logs`), or 404. With `?raw=1` the payload bytes themselves, with
 *   the record's content type, as a download (`Content-Disposition: attachment; filename="<id>"`
 *   or `"<id>-<file name>"`, `Content-Security-Policy: sandbox; default-src 'none'`, `nosniff`).
 * - `GET /admin/audit?limit=1..500&cursor=<next>` (with users) → `{entries, next}` newest first
 *   (default 100); another parameter, or a bad value, → 400 naming it, as on `/admin/logs`.
 * - `GET /admin/destinations`, `POST /admin/destinations/:id/verify`: see destinations.ts.
 * - Any other path under `/admin` → 404 `{"error":"no route <METHOD> <path>"}` (after auth).
 */
export function createAdminApp(options: AdminAppOptions): Hono {
  const { supervisor, store, log } = options;
  if (options.token.reveal() === "") {
    throw new Error(`admin: the token from ${options.token.source} is empty`);
  }
  const now = options.now ?? Date.now;
  const app = new Hono();

  const noStore = async (c: Context, next: () => Promise<void>) => {
    c.header("Cache-Control", "no-store");
    await next();
  };
  const auth = options.users
    ? requireRoleByToken(options.users, log)
    : requireBearer({ token: options.token, log });
  app.use("/admin", noStore, auth);
  app.use("/admin/*", noStore, auth);

  app.get("/admin/actors", async (c) => {
    const actors = (await supervisor.statuses()).map(actorView);
    return sendJson(c, { at: now(), actors, unserved: unservedOf(supervisor) });
  });

  app.get("/admin/actors/:id", async (c) => {
    const id = c.req.param("id");
    if (id.length > MAX_ID) return idTooLong(c, id);
    const status = await supervisor.status(id);
    if (status) return sendJson(c, actorView(status));
    const unserved = unservedOf(supervisor).find((u) => u.actor === id);
    return unserved ? sendJson(c, { error: `no actor ${id}`, unserved }, 404) : noActor(c, id);
  });

  app.get("/admin/actors/:id/dead-letters", async (c) => {
    const id = c.req.param("id");
    if (id.length > MAX_ID) return idTooLong(c, id);
    const limit = parseLimitQuery(new URL(c.req.url).searchParams, 100);
    if (!limit.ok) return sendJson(c, { error: limit.error }, 400);
    if (!(await supervisor.status(id))) return noActor(c, id);
    return sendJson(c, { actor: id, deadLetters: await store.deadLetters(id, limit.value) });
  });

  app.post(
    "/admin/actors/:id/:command{pause|resume|retry|skip}",
    checkId,
    bodyLimit({ maxSize: MAX_BODY, onError: (c) => tooLarge(c) }),
    async (c) => {
      const id = c.req.param("id");
      const command = c.req.param("command") as ActorCommand;
      const body = parseCommandBody(await c.req.text(), command === "skip");
      if (!body.ok) return sendJson(c, { error: body.error }, 400);
      const result = await supervisor.command(id, command, body.value.by, body.value.reason);
      if (!result) return noActor(c, id);
      const { reason } = body.value;
      await auditApi(options.users, c, {
        action: command,
        target: `actor:${id}`,
        reason,
        ...result,
      });
      return sendJson(c, { ok: result.ok, message: result.message }, result.ok ? 200 : 409);
    },
  );

  app.get("/admin/logs", async (c) => {
    const split = splitPatientQuery(new URL(c.req.url).searchParams);
    if (!split.ok) return sendJson(c, { error: split.error }, 400);
    const filter = parseLogFilter(split.value.rest);
    if (!filter.ok) return sendJson(c, { error: filter.error }, 400);
    if (split.value.patient) {
      const found = await searchByPatient(store, split.value.patient, filter.value);
      return sendJson(c, {
        logs: found.logs,
        next: found.next ?? null,
        scan: {
          logs: found.scanned,
          bytes: found.bytes,
          cut: found.cut ?? null,
          unreadable: found.unreadable,
        },
      });
    }
    const page = await store.listLogs(filter.value);
    return sendJson(c, { logs: page.logs, next: page.next ?? null });
  });

  app.get("/admin/logs/:id", async (c) => {
    const id = c.req.param("id");
    if (id.length > MAX_ID) return idTooLong(c, id);
    const record = await store.getLog(id);
    return record ? sendJson(c, record) : sendJson(c, { error: `no log ${id}` }, 404);
  });

  app.post(
    "/admin/logs/:id/reprocess",
    checkId,
    bodyLimit({ maxSize: MAX_BODY, onError: (c) => tooLarge(c) }),
    async (c) => {
      const id = c.req.param("id");
      const body = parseCommandBody(await c.req.text(), false);
      if (!body.ok) return sendJson(c, { error: body.error }, 400);
      if (!(await store.getLog(id))) {
        return sendJson(c, { error: `no log ${id}` }, 404);
      }
      const result = await store.reprocess(id, body.value.by, body.value.reason);
      await auditApi(options.users, c, {
        action: "reprocess",
        target: `log:${id}`,
        reason: body.value.reason,
        ok: result.ok,
        message: result.ok ? `back at the end of ${result.queue}` : result.error,
      });
      if (!result.ok) return sendJson(c, { ok: false, message: result.error }, 409);
      log.info("admin.reprocess", { log: id, queue: result.queue, by: body.value.by });
      supervisor.notify(result.queue);
      return sendJson(c, {
        ok: true,
        message: `message ${result.log.messageId} is back at the end of ${result.queue}`,
        log: result.log,
      });
    },
  );

  app.get("/admin/messages/:id", async (c) => {
    const id = c.req.param("id");
    if (id.length > MAX_ID) return idTooLong(c, id);
    const rawFlag = c.req.query("raw") ?? "0";
    if (!["0", "1", "true", "false"].includes(rawFlag)) {
      return sendJson(c, {
        error: `raw: expected 1, true, 0 or false; got ${JSON.stringify(rawFlag)}`,
      }, 400);
    }
    const record = await store.getMessage(id);
    if (!record) return sendJson(c, { error: `no message ${id}` }, 404);
    const payload = await store.getPayload(record);
    if (rawFlag === "1" || rawFlag === "true") {
      // The store builds payloads on plain ArrayBuffers (never shared ones).
      // A download that is never rendered: the bytes are the sender's (present.ts).
      return c.body(payload as Uint8Array<ArrayBuffer>, 200, rawDownloadHeaders(record));
    }
    const view = messageView(record, payload, await store.logsOfMessage(id));
    // A shaped delivery's own payload is shown beside the original (shaped_view.ts).
    return sendJson(c, await withModified(view, store));
  });

  const users = options.users;
  if (users) {
    app.get("/admin/audit", async (c) => {
      const query = parsePageQuery(new URL(c.req.url).searchParams, "cursor", 100);
      if (!query.ok) return sendJson(c, { error: query.error }, 400);
      const page = await users.listAudit(query.value);
      return sendJson(c, { entries: page.entries, next: page.next ?? null });
    });
  }

  const destinations = options.destinations;
  if (destinations) {
    app.route(
      "/admin",
      createDestinationsApp({
        list: () => destinations.list(),
        verify: (id) => destinations.verify(id),
        audit: (c, facts) => auditApi(options.users, c, facts),
      }),
    );
  }
  if (options.operations) app.route("/admin", createOperationsApp(options.operations));

  app.all("/admin/*", (c) => sendJson(c, { error: `no route ${c.req.method} ${c.req.path}` }, 404));

  app.onError((error, c) => {
    if (error instanceof HTTPException) return error.getResponse();
    if (error instanceof BodyTimeoutError) {
      log.warn("admin.body-timeout", { method: c.req.method, seconds: error.seconds });
      return sendJson(c, { error: error.message }, 408, { Connection: "close" });
    }
    if (error.name === "BodyLimitError") return tooLarge(c);
    log.error("admin.failed", { method: c.req.method, path: c.req.path, error });
    return sendJson(c, { error: "internal error" }, 500);
  });

  return app;
}

function noActor(c: Context, id: string): Response {
  return sendJson(c, { error: `no actor ${id}` }, 404);
}

/** The 400 for an over-long `:id`, which names the parameter and the limit (not the value). */
function idTooLong(c: Context, id: string): Response {
  return sendJson(c, { error: `id: at most ${MAX_ID} characters; got ${id.length}` }, 400);
}

/** Refuses an over-long `:id` before a body is read. */
async function checkId(c: Context, next: () => Promise<void>): Promise<Response | void> {
  const id = c.req.param("id") ?? "";
  if (id.length > MAX_ID) return idTooLong(c, id);
  await next();
}

function tooLarge(c: Context): Response {
  return sendJson(c, { error: `body larger than ${MAX_BODY} bytes` }, 413);
}
