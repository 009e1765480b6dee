/**
 * The console's browser security: a strict Content-Security-Policy (no inline script or style,
 * everything from the engine itself), the other hardening headers, the session cookie, and the
 * CSRF check of every state-changing request.
 * @module
 */

import type { Context, MiddlewareHandler } from "hono";
import { getCookie, setCookie } from "hono/cookie";
import type { ConsoleDeps, ConsoleEnv } from "./context.ts";
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
 */
export function requireSession(deps: ConsoleDeps): MiddlewareHandler<ConsoleEnv> {
  return async (c, next) => {
    const session = deps.sessions.touch(getCookie(c, sessionCookieName(deps.secure)));
    if (!session) {
      if (c.req.method === "GET" && !c.req.header("HX-Request")) {
        return c.redirect("/console/login", 303);
      }
      return c.text("signed out: sign in again", 401);
    }
    c.set("session", session);
    return await next();
  };
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
        const form = await c.req.parseBody();
        token = typeof form["_csrf"] === "string" ? form["_csrf"] : "";
      }
    }
    if (!sameString(token, c.var.session.csrf)) {
      return c.text("refused: the form's CSRF token is missing or stale; reload the page", 403);
    }
    return await next();
  };
}
