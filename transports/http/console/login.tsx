/** @jsxImportSource hono/jsx */
/**
 * Sign-in (user name and password, or the admin token) and sign-out. Sign-in attempts are
 * rate-limited per address; the sign-in form carries its own CSRF token (a cookie and a field
 * that must match), since there is no session yet.
 * @module
 */

import type { Context, Hono } from "hono";
import { getCookie, setCookie } from "hono/cookie";
import { peerIp } from "../peer.ts";
import { RateLimiter } from "../rate_limit.ts";
import { PeerLog } from "../peer_log.ts";
import type { ConsoleDeps, ConsoleEnv } from "./context.ts";
import { Page } from "./layout.tsx";
import {
  clearSessionCookie,
  readForm,
  requireCsrf,
  requireSession,
  setSessionCookie,
} from "./security.ts";
import { randomToken } from "./sessions.ts";
import { type Principal, sameString } from "./users.ts";

const LOGIN_COOKIE = "engine_console_login";
const MAX_FIELD = 4096;

function LoginPage(props: { token: string; error?: string }) {
  return (
    <Page title="Sign in">
      <section class="login">
        <h1>Sign in to the engine console</h1>
        {props.error ? <p class="error" role="alert">{props.error}</p> : null}
        <form method="post" action="/console/login">
          <input type="hidden" name="_login" value={props.token} />
          <label>
            User name <input name="name" autocomplete="username" autofocus />
          </label>
          <label>
            Password <input name="password" type="password" autocomplete="current-password" />
          </label>
          <button type="submit">Sign in</button>
        </form>
        <h2>Or with the admin token</h2>
        <form method="post" action="/console/login">
          <input type="hidden" name="_login" value={props.token} />
          <label>
            Admin token <input name="token" type="password" autocomplete="off" />
          </label>
          <button type="submit">Sign in with the token</button>
        </form>
      </section>
    </Page>
  );
}

/** Adds `/console/login` (GET, POST) and `/console/logout` (POST). */
export function loginRoutes(
  app: Hono<ConsoleEnv>,
  deps: ConsoleDeps,
  options: { attemptsPerWindow: number; windowMs: number },
): void {
  const limiter = new RateLimiter({
    limit: options.attemptsPerWindow,
    windowMs: options.windowMs,
    now: deps.now,
  });
  // Past its limit every attempt is refused: one line per address, then one every 5 s counting
  // those held back (peer_log.ts), not one per attempt.
  const limitedLog = new PeerLog(deps.log);
  const form = (c: Context<ConsoleEnv>, error?: string, status = 200) => {
    const token = randomToken(18);
    setCookie(c, LOGIN_COOKIE, token, {
      path: "/console/login",
      httpOnly: true,
      secure: deps.secure,
      sameSite: "Strict",
    });
    return c.html(<LoginPage token={token} error={error} />, status as 200);
  };

  app.get("/console/login", (c) => form(c));

  app.post("/console/login", async (c) => {
    const ip = peerIp(c);
    const decision = limiter.take(ip);
    if (!decision.allowed) {
      limitedLog.warn("console.login-limited", ip, { remote: ip });
      c.header("Retry-After", String(decision.retryAfterSeconds));
      return form(c, "Too many sign-in attempts from your address; wait and try again.", 429);
    }
    const body = await readForm(c);
    if (!body) return form(c, "The sign-in form could not be read; try again.", 400);
    const field = (n: string) => {
      const v = body[n];
      return typeof v === "string" ? v.slice(0, MAX_FIELD) : "";
    };
    const cookie = getCookie(c, LOGIN_COOKIE) ?? "";
    if (cookie === "" || !sameString(cookie, field("_login"))) {
      return form(c, "The sign-in form expired; try again.", 403);
    }
    let who: Principal | undefined;
    if (field("token") !== "") who = await deps.users.byToken(field("token"));
    else who = await deps.users.signIn(field("name").trim(), field("password"));
    if (!who) {
      deps.log.warn("console.login-failed", { remote: ip, name: field("name").slice(0, 100) });
      return form(c, "Wrong user name, password or token.", 401);
    }
    const session = deps.sessions.create(who, ip);
    setSessionCookie(c, deps.secure, session.id);
    deps.log.info("console.login", { remote: ip, user: who.name, role: who.role });
    return c.redirect("/console/connections", 303);
  });

  app.post("/console/logout", requireSession(deps), requireCsrf(), (c) => {
    deps.sessions.end(c.var.session.id);
    clearSessionCookie(c, deps.secure);
    return c.redirect("/console/login", 303);
  });
}
