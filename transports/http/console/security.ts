/**
 * The console's browser security: a strict Content-Security-Policy (no inline script or style,
 * everything from the engine itself), the other hardening headers, the session cookie, and the
 * CSRF check of every state-changing request.
 * @module
 */

import type { Context, MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { getCookie, setCookie } from "hono/cookie";
import type { ConsoleDeps, ConsoleEnv } from "./context.ts";
import { peerIp } from "../peer.ts";
import { parseMultipart } from "./multipart.ts";
import { signedOut } from "./signed_out.tsx";
import { sameString } from "./users.ts";

/** The policy on every console response: scripts, styles and connections from the engine only. */
export const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join("; ");

/** Sets the security headers on every response (pages, fragments, assets, errors). */
export function securityHeaders(): MiddlewareHandler {
  return async (c, next) => {
    await next();
    // A route's own policy is a stricter one (a download's `sandbox`): it stays.
    if (!c.res.headers.has("Content-Security-Policy")) {
      c.res.headers.set("Content-Security-Policy", CSP);
    }
    c.res.headers.set("X-Content-Type-Options", "nosniff");
    c.res.headers.set("X-Frame-Options", "DENY");
    c.res.headers.set("Referrer-Policy", "no-referrer");
    c.res.headers.set("Cross-Origin-Opener-Policy", "same-origin");
    if (!c.res.headers.has("Cache-Control")) c.res.headers.set("Cache-Control", "no-store");
  };
}

/** The session cookie's name: `__Host-` prefixed over TLS (the browser then insists on Secure). */
export function sessionCookieName(secure: boolean): string {
  return secure ? "__Host-engine_console" : "engine_console";
}

/** Sets the session cookie (no Max-Age: it ends with the browser or the server's expiry). */
export function setSessionCookie(c: Context, secure: boolean, id: string): void {
  setCookie(c, sessionCookieName(secure), id, {
    path: "/",
    httpOnly: true,
    secure,
    sameSite: "Strict",
  });
}

/** Clears the session cookie. */
export function clearSessionCookie(c: Context, secure: boolean): void {
  setCookie(c, sessionCookieName(secure), "", {
    path: "/",
    httpOnly: true,
    secure,
    sameSite: "Strict",
    maxAge: 0,
  });
}

/**
 * Lets a request through only with a live session (`c.var.session`); otherwise a page request
 * is sent to `/console/login`, anything else gets 401.
 *
 * A KV user's session acts only while its user is in KV as the same user, with the role KV gives
 * it now: the user is read again before every state-changing request (anything but GET and HEAD)
 * and at most every `sessions.userRecheckMs` (5 s) on page views. A user gone (deleted, or
 * deleted and created again) ends the session: logged as `console.session-ended`, and the
 * browser is told why ({@link signedOut}), as it is after a delete on this node.
 */
export function requireSession(deps: ConsoleDeps): MiddlewareHandler<ConsoleEnv> {
  return async (c, next) => {
    const id = getCookie(c, sessionCookieName(deps.secure));
    const session = deps.sessions.touch(id);
    if (!session) {
      const ended = deps.sessions.takeEnded(id);
      if (ended) {
        clearSessionCookie(c, deps.secure);
        return signedOut(c, ended);
      }
      if (c.req.method === "GET" && !c.req.header("HX-Request")) {
        return c.redirect("/console/login", 303);
      }
      return c.text("signed out: sign in again", 401);
    }
    const reads = c.req.method === "GET" || c.req.method === "HEAD";
    if (session.principal.kvIdentity && (!reads || deps.sessions.claimUserCheck(session))) {
      const now = await deps.users.check(session.principal);
      if ("ended" in now) {
        const ended = { user: session.principal.name, reason: now.ended };
        deps.sessions.end(session.id);
        deps.log.warn("console.session-ended", { ...ended, remote: peerIp(c) });
        clearSessionCookie(c, deps.secure);
        return signedOut(c, ended);
      }
      const before = deps.sessions.userChecked(session, now.role);
      if (before) {
        deps.log.info("console.session-role", {
          user: session.principal.name,
          from: before,
          to: now.role,
        });
      }
    }
    c.set("session", session);
    return await next();
  };
}

/** The largest body of a console form (sign-in, an action, a user): a few fields. */
export const MAX_FORM_BYTES = 64 * 1024;

/**
 * Refuses (413) a request body over {@link MAX_FORM_BYTES} before anything reads it: mounted ahead
 * of every console route, sign-in included (an unauthenticated body is buffered whole by the form
 * parser). `/console/upload` is left to its own, larger limit.
 */
export function formBodyLimit(): MiddlewareHandler {
  const limit = bodyLimit({
    maxSize: MAX_FORM_BYTES,
    onError: (c) => c.text(`refused: a console form is at most ${MAX_FORM_BYTES} bytes`, 413),
  });
  return (c, next) =>
    c.req.method === "GET" || c.req.method === "HEAD" || c.req.path === "/console/upload"
      ? next()
      : limit(c, next);
}

/** Multipart forms already read, per request (the CSRF check and the route read the same). */
const multipartForms = new WeakMap<object, Promise<Record<string, unknown> | undefined>>();

/**
 * The fields of a form body, or undefined when the body is not a form that can be parsed (the
 * caller answers 400: the sender's mistake, not the engine's). A `multipart/form-data` body is
 * read by {@link parseMultipart} (file names whole, `filename*` preferred, paths dropped);
 * `application/x-www-form-urlencoded` by hono. As with hono, a repeated field keeps its last
 * value unless its name ends in `[]`.
 */
export async function readForm(c: Context): Promise<Record<string, unknown> | undefined> {
  try {
    const type = c.req.header("content-type") ?? "";
    if (!type.startsWith("multipart/form-data")) return await c.req.parseBody();
    let form = multipartForms.get(c.req);
    if (!form) {
      form = c.req.arrayBuffer().then((body) => {
        const parts = parseMultipart(new Uint8Array(body), type);
        return parts ? formFields(parts) : undefined;
      });
      multipartForms.set(c.req, form);
    }
    return await form;
  } catch (error) {
    // Past the size limit as it streams: the limit's own answer (413), not a malformed form.
    if (overLimit(error)) throw error;
    return undefined;
  }
}

/** A form's fields as hono's `parseBody` gives them. */
function formFields(parts: FormData): Record<string, unknown> {
  const form: Record<string, unknown> = Object.create(null);
  parts.forEach((value, key) => {
    const before = form[key];
    if (!key.endsWith("[]")) form[key] = value;
    else form[key] = Array.isArray(before) ? [...before, value] : [value];
  });
  return form;
}

/** Whether `error` (or what caused it) is hono's body-limit error. */
function overLimit(error: unknown): boolean {
  for (let e = error, depth = 0; e instanceof Error && depth < 4; e = e.cause, depth++) {
    if (e.name === "BodyLimitError") return true;
  }
  return false;
}

/**
 * Refuses a state-changing request (POST) whose CSRF token (form field `_csrf` or header
 * `X-CSRF-Token`) is not its session's, with 403.
 */
export function requireCsrf(): MiddlewareHandler<ConsoleEnv> {
  return async (c, next) => {
    if (c.req.method !== "POST") return await next();
    let token = c.req.header("X-CSRF-Token") ?? "";
    if (token === "") {
      const type = c.req.header("content-type") ?? "";
      if (type.includes("form")) {
        const form = await readForm(c);
        if (!form) {
          return c.text("refused: the form could not be read (not a valid form body)", 400);
        }
        token = typeof form["_csrf"] === "string" ? form["_csrf"] : "";
      }
    }
    if (!sameString(token, c.var.session.csrf)) {
      return c.text("refused: the form's CSRF token is missing or stale; reload the page", 403);
    }
    return await next();
  };
}
